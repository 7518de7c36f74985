// A bounded max-heap of the k best (distance, index) pairs, the one every kNN method fills.

/** The k best (distance, index) pairs seen so far: a max-heap with the worst pair at the root. */
export class TopK {
  readonly dist: Float64Array;
  readonly idx: Int32Array;
  size = 0;

  constructor(readonly k: number) {
    this.dist = new Float64Array(k);
    this.idx = new Int32Array(k);
  }

  reset(): void {
    this.size = 0;
  }

  /** The distance a candidate must not exceed to enter (Infinity until k pairs are held). */
  bound(): number {
    return this.size < this.k ? Infinity : this.dist[0];
  }

  /** Offers a pair; kept when the heap is not full or it beats the worst pair (ties: smaller index wins). */
  push(d: number, i: number): void {
    const dist = this.dist;
    const idx = this.idx;
    if (this.size < this.k) {
      // Sift up.
      let c = this.size++;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (dist[p] > d || (dist[p] === d && idx[p] > i)) break;
        dist[c] = dist[p];
        idx[c] = idx[p];
        c = p;
      }
      dist[c] = d;
      idx[c] = i;
      return;
    }
    if (d > dist[0] || (d === dist[0] && i >= idx[0])) return;
    // Replace the root and sift down.
    const n = this.size;
    let c = 0;
    for (;;) {
      const l = 2 * c + 1;
      if (l >= n) break;
      const r = l + 1;
      let m = l;
      if (r < n && (dist[r] > dist[l] || (dist[r] === dist[l] && idx[r] > idx[l]))) m = r;
      if (dist[m] < d || (dist[m] === d && idx[m] < i)) break;
      dist[c] = dist[m];
      idx[c] = idx[m];
      c = m;
    }
    dist[c] = d;
    idx[c] = i;
  }

  /** Writes the held pairs nearest first into outDist/outIdx at `at`; sqrt turns squared L2 into L2. */
  drain(outDist: Float64Array, outIdx: Int32Array, at: number, sqrt: boolean): void {
    const n = this.size;
    const order = Array.from({ length: n }, (_, j) => j);
    const dist = this.dist;
    const idx = this.idx;
    order.sort((a, b) => dist[a] - dist[b] || idx[a] - idx[b]);
    for (let j = 0; j < n; j++) {
      const d = dist[order[j]];
      outDist[at + j] = sqrt ? Math.sqrt(d > 0 ? d : 0) : d;
      outIdx[at + j] = idx[order[j]];
    }
    this.size = 0;
  }
}

