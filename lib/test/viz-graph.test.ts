import { describe, expect, it } from "vitest";
import { graphSvg, graphToDot, showGraph, svgFragment } from "../src/index.js";

describe("graph drawing (Graphviz)", () => {
  const g = {
    title: "x·y + x",
    nodes: [
      { id: "x", label: "x\n2.0" },
      { id: "y", label: 'y "quoted"' },
      { id: "mul", label: "×", shape: "circle" as const },
      { id: "add", label: "+", shape: "circle" as const, fill: "#ddf4ff" },
    ],
    edges: [
      { from: "x", to: "mul" },
      { from: "y", to: "mul" },
      { from: "mul", to: "add" },
      { from: "x", to: "add", label: "1", dashed: true, color: "#cf222e" },
    ],
  };

  it("writes DOT with quoted labels, line breaks and the edge attributes", () => {
    const dot = graphToDot(g);
    expect(dot).toMatch(/^digraph G \{\n  rankdir=LR;/);
    expect(dot).toContain('"x" [label="x\\n2.0"]');
    expect(dot).toContain('"y" [label="y \\"quoted\\""]');
    expect(dot).toContain('"x" -> "add" [label="1", color="#cf222e", fontcolor="#cf222e", style=dashed];');
    expect(dot).toContain('label="x·y + x"');
  });

  it("refuses an edge to an unknown node and a repeated id, naming them", () => {
    expect(() => graphToDot({ nodes: [{ id: "a" }], edges: [{ from: "a", to: "b" }] })).toThrow(/graphToDot: edge "a" -> "b" names an unknown node "b"/);
    expect(() => graphToDot({ nodes: [{ id: "a" }, { id: "a" }], edges: [] })).toThrow(/node id "a" appears twice/);
  });

  it("lays the graph out with Graphviz: an SVG with one group per node and per edge", async () => {
    const svg = await graphSvg(g);
    expect(svg).toContain("<svg");
    expect((svg.match(/class="node"/g) ?? []).length).toBe(4);
    expect((svg.match(/class="edge"/g) ?? []).length).toBe(4);
    // The layout runs left to right: x sits left of the + node.
    const xPos = (id: string) => Number(new RegExp(`<title>${id}</title>[\\s\\S]*?<text[^>]* x="(-?[\\d.]+)"`).exec(svg)?.[1]);
    expect(xPos("x")).toBeLessThan(xPos("add"));
    expect(svgFragment(await graphSvg("digraph { a -> b }"))).toMatch(/^<div class="sg-graph"><svg[\s\S]*<title>a&#45;&gt;b<\/title>/);
    await expect(showGraph("digraph { a -> b }")).resolves.toBeUndefined();
  });

  it("reports a DOT syntax error", async () => {
    await expect(graphSvg("digraph { a -> }")).rejects.toThrow(/graphSvg: Graphviz could not lay out the graph/);
  });
});
