;; WebAssembly SIMD kernels for lib/src/gemm.ts, assembled by lib/tools/build-wasm.mjs.
;;
;; macro(pa, pb, pc, mcp, ncp, kc, ai, ap) computes one block C = A·B, where B is packed as micro-panels of 4
;; columns (for each p, 4 doubles) and C (mcp x ncp, row-major) is a scratch block, overwritten, that the
;; caller adds into the real strided output. mcp and ncp are multiples of 4; offsets are in bytes, 16-aligned.
;; A has the 4 values of rows i..i+3 at one step p consecutive, row i starting at pa + i*ai and each step ap
;; bytes further: packed micro-panels (ai = 8*kc, ap = 32) or a block of a column-major A copied in as is
;; (ai = 8, ap = 8*mcp). pack_lines and pack_steps make the micro-panels from blocks copied in as they are
;; (a memcpy per row), which costs far less than gathering each element from JavaScript.
;; Each step of the inner loop broadcasts one A value per row (v128.load64_splat, one instruction) and
;; multiplies it by the two f64x2 halves of the B row: 8 accumulators stay in registers for the whole kc
;; loop. The build also makes gemm.fused.wasm, where each product-and-add is one f64x2.relaxed_madd.
;; The loop is deliberately not unrolled: unrolled by two, V8 (11.3) hoists the second step's loads, runs
;; out of the 15 SIMD registers it allocates and spills accumulators to the stack. One block of 64x256 by
;; 256x512, one thread, best of 7 x 50 calls (AMD EPYC, near idle):
;;   unrolled by 2, f64.load + splat:  12.0 GFLOP/s (12.0 fused)
;;   not unrolled, load64_splat:       20.3 GFLOP/s (25.0 fused)
;;   other tiles, not unrolled, fused: 6x4 12.4, 2x8 17.7, 3x8 13.3, 4x6 12.2, 5x4 10.4 (all spill)
(module
  (memory (export "memory") 48)
  (func (export "macro") (param $pa i32) (param $pb i32) (param $pc i32) (param $mcp i32) (param $ncp i32) (param $kc i32) (param $ai i32) (param $ap i32)
    (local $i i32) (local $j i32) (local $p i32) (local $a i32) (local $b i32) (local $c i32) (local $rowBytes i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128) (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $av v128)
    (local.set $rowBytes (i32.shl (local.get $ncp) (i32.const 3)))
    (local.set $j (i32.const 0))
    (block $jdone
      (loop $jloop
        (br_if $jdone (i32.ge_u (local.get $j) (local.get $ncp)))
        (local.set $i (i32.const 0))
        (block $idone
          (loop $iloop
            (br_if $idone (i32.ge_u (local.get $i) (local.get $mcp)))
            (local.set $c00 (v128.const i64x2 0 0))
            (local.set $c01 (v128.const i64x2 0 0))
            (local.set $c10 (v128.const i64x2 0 0))
            (local.set $c11 (v128.const i64x2 0 0))
            (local.set $c20 (v128.const i64x2 0 0))
            (local.set $c21 (v128.const i64x2 0 0))
            (local.set $c30 (v128.const i64x2 0 0))
            (local.set $c31 (v128.const i64x2 0 0))
            (local.set $a (i32.add (local.get $pa) (i32.mul (local.get $i) (local.get $ai))))
            (local.set $b (i32.add (local.get $pb) (i32.shl (i32.mul (local.get $j) (local.get $kc)) (i32.const 3))))
            (local.set $p (local.get $kc))
            (block $pdone
              (loop $ploop
                (br_if $pdone (i32.eqz (local.get $p)))
              (local.set $b0 (v128.load offset=0 (local.get $b)))
              (local.set $b1 (v128.load offset=16 (local.get $b)))
              (local.set $av (v128.load64_splat offset=0 (local.get $a)))
              (local.set $c00 (f64x2.add (local.get $c00) (f64x2.mul (local.get $av) (local.get $b0))))
              (local.set $c01 (f64x2.add (local.get $c01) (f64x2.mul (local.get $av) (local.get $b1))))
              (local.set $av (v128.load64_splat offset=8 (local.get $a)))
              (local.set $c10 (f64x2.add (local.get $c10) (f64x2.mul (local.get $av) (local.get $b0))))
              (local.set $c11 (f64x2.add (local.get $c11) (f64x2.mul (local.get $av) (local.get $b1))))
              (local.set $av (v128.load64_splat offset=16 (local.get $a)))
              (local.set $c20 (f64x2.add (local.get $c20) (f64x2.mul (local.get $av) (local.get $b0))))
              (local.set $c21 (f64x2.add (local.get $c21) (f64x2.mul (local.get $av) (local.get $b1))))
              (local.set $av (v128.load64_splat offset=24 (local.get $a)))
              (local.set $c30 (f64x2.add (local.get $c30) (f64x2.mul (local.get $av) (local.get $b0))))
              (local.set $c31 (f64x2.add (local.get $c31) (f64x2.mul (local.get $av) (local.get $b1))))
                (local.set $a (i32.add (local.get $a) (local.get $ap)))
                (local.set $b (i32.add (local.get $b) (i32.const 32)))
                (local.set $p (i32.sub (local.get $p) (i32.const 1)))
                (br $ploop)))
            (local.set $c (i32.add (local.get $pc) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $ncp)) (local.get $j)) (i32.const 3))))
            (v128.store (local.get $c) (local.get $c00))
            (v128.store offset=16 (local.get $c) (local.get $c01))
            (local.set $c (i32.add (local.get $c) (local.get $rowBytes)))
            (v128.store (local.get $c) (local.get $c10))
            (v128.store offset=16 (local.get $c) (local.get $c11))
            (local.set $c (i32.add (local.get $c) (local.get $rowBytes)))
            (v128.store (local.get $c) (local.get $c20))
            (v128.store offset=16 (local.get $c) (local.get $c21))
            (local.set $c (i32.add (local.get $c) (local.get $rowBytes)))
            (v128.store (local.get $c) (local.get $c30))
            (v128.store offset=16 (local.get $c) (local.get $c31))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $iloop)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $jloop))))

  ;; pack_lines(src, ls, len, lines, dst): lines (a multiple of 4) runs of len doubles, line l at src + l*ls
  ;; bytes, into micro-panels: for each group of 4 lines and each step p, the 4 lines' values at p side by
  ;; side (4*len doubles a group). Rows of a row-major A block, or columns of a column-major B block.
  (func (export "pack_lines") (param $src i32) (param $ls i32) (param $len i32) (param $lines i32) (param $dst i32)
    (local $l i32) (local $s0 i32) (local $s1 i32) (local $s2 i32) (local $s3 i32) (local $end i32)
    (local.set $l (i32.const 0))
    (block $ldone
      (loop $lloop
        (br_if $ldone (i32.ge_u (local.get $l) (local.get $lines)))
        (local.set $s0 (i32.add (local.get $src) (i32.mul (local.get $l) (local.get $ls))))
        (local.set $s1 (i32.add (local.get $s0) (local.get $ls)))
        (local.set $s2 (i32.add (local.get $s1) (local.get $ls)))
        (local.set $s3 (i32.add (local.get $s2) (local.get $ls)))
        (local.set $end (i32.add (local.get $s0) (i32.shl (local.get $len) (i32.const 3))))
        (block $pdone
          (loop $ploop
            (br_if $pdone (i32.ge_u (local.get $s0) (local.get $end)))
            (f64.store offset=0 (local.get $dst) (f64.load (local.get $s0)))
            (f64.store offset=8 (local.get $dst) (f64.load (local.get $s1)))
            (f64.store offset=16 (local.get $dst) (f64.load (local.get $s2)))
            (f64.store offset=24 (local.get $dst) (f64.load (local.get $s3)))
            (local.set $s0 (i32.add (local.get $s0) (i32.const 8)))
            (local.set $s1 (i32.add (local.get $s1) (i32.const 8)))
            (local.set $s2 (i32.add (local.get $s2) (i32.const 8)))
            (local.set $s3 (i32.add (local.get $s3) (i32.const 8)))
            (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
            (br $ploop)))
        (local.set $l (i32.add (local.get $l) (i32.const 4)))
        (br $lloop))))

  ;; pack_steps(src, ss, steps, lines, dst): steps rows of `lines` doubles (a multiple of 4), step p at
  ;; src + p*ss bytes, into the same micro-panels: a row-major B block, each group of 4 columns 32 bytes a step.
  (func (export "pack_steps") (param $src i32) (param $ss i32) (param $steps i32) (param $lines i32) (param $dst i32)
    (local $l i32) (local $s i32) (local $p i32)
    (local.set $l (i32.const 0))
    (block $ldone
      (loop $lloop
        (br_if $ldone (i32.ge_u (local.get $l) (local.get $lines)))
        (local.set $s (i32.add (local.get $src) (i32.shl (local.get $l) (i32.const 3))))
        (local.set $p (local.get $steps))
        (block $pdone
          (loop $ploop
            (br_if $pdone (i32.eqz (local.get $p)))
            (v128.store offset=0 (local.get $dst) (v128.load offset=0 (local.get $s)))
            (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $s)))
            (local.set $s (i32.add (local.get $s) (local.get $ss)))
            (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
            (local.set $p (i32.sub (local.get $p) (i32.const 1)))
            (br $ploop)))
        (local.set $l (i32.add (local.get $l) (i32.const 4)))
        (br $lloop))))
)
