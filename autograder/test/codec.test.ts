import { fromNested, isTensor, transpose } from "@semantic-gap/lib";
import { describe, expect, it } from "vitest";
import { CodecError, TENSOR_TAG, UNSUPPORTED_TAG, UnsupportedValue, decodeTrusted, decodeUntrusted, encodeValue } from "../src/codec.js";
import { compareTensor } from "../src/compare.js";

describe("the IPC codec", () => {
  it("round-trips tensors (views become contiguous copies), typed arrays and plain data", () => {
    const t = transpose(fromNested([[1, 2, 3], [4, 5, 6]]));
    const value = { t, y: Int32Array.from([1, 2]), n: 3, s: "x", list: [1, null, true] };
    const back = decodeUntrusted(structuredClone(encodeValue(value))) as typeof value;
    expect(isTensor(back.t)).toBe(true);
    expect(back.t.shape).toEqual([3, 2]);
    expect(Array.from(back.t.data)).toEqual([1, 4, 2, 5, 3, 6]);
    expect(back.y).toEqual(Int32Array.from([1, 2]));
    expect(back.list).toEqual([1, null, true]);
    expect(decodeTrusted(encodeValue(t))).toSatisfy(isTensor);
  });

  it("names what cannot cross instead of failing", () => {
    const enc = encodeValue({ f: () => 1, m: new Map(), s: Symbol("x") }) as Record<string, unknown>;
    expect(enc).toEqual({ m: { [UNSUPPORTED_TAG]: "an object of type Map" }, s: { [UNSUPPORTED_TAG]: "a symbol" } });
    expect(encodeValue(() => 1)).toEqual({ [UNSUPPORTED_TAG]: "a function" });
    const dec = decodeUntrusted({ [UNSUPPORTED_TAG]: "a function" });
    expect(dec).toBeInstanceOf(UnsupportedValue);
    expect(compareTensor("out", dec, fromNested([[1]])).message).toBe("out: expected a float64 tensor, got a function");
  });

  it("refuses malformed tensors, cycles, depth and size bombs from the student's side", () => {
    const bad = (shape: unknown, data: unknown) => () => decodeUntrusted({ [TENSOR_TAG]: true, shape, data });
    expect(bad([2, 2], new Float64Array(3))).toThrow(/does not match its data/);
    expect(bad([-1], new Float64Array(0))).toThrow(/invalid shape/);
    expect(bad([1.5], new Float64Array(1))).toThrow(/invalid shape/);
    expect(bad([2], [1, 2])).toThrow(/malformed tensor/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => encodeValue(cyclic)).toThrow(/cycle/);
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(() => decodeUntrusted(deep)).toThrow(/levels deep/);
    expect(() => decodeUntrusted(new Float64Array(11), { maxElements: 10, maxDepth: 5, maxString: 10 })).toThrow(/too large/);
    expect(() => encodeValue({ shape: [2], stride: [1], offset: 5, data: new Float64Array(2) })).toThrow(/outside its data/);
    expect(() => encodeValue({ shape: [2], stride: [1], offset: 0, data: new Float64Array(2), get x() { throw new Error("no"); } })).not.toThrow();
    expect(() => decodeUntrusted({ [TENSOR_TAG]: true, shape: [1], data: [1] })).toThrow(CodecError);
    expect(() => encodeValue("x".repeat(11), { maxElements: 10, maxDepth: 5, maxString: 10 })).toThrow(CodecError);
  });

  it("rebuilds objects key by key, dropping __proto__", () => {
    const evil = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as object;
    const out = decodeUntrusted(evil) as Record<string, unknown>;
    expect(out).toEqual({ a: 1 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });
});
