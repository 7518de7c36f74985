;; WebAssembly SIMD kernels for the pruned k-nearest-neighbour search (lib/src/knn-core.ts), assembled by
;; lib/tools/build-wasm.mjs.
;;
;; Distances between two rows of 16-bit integers (8-bit pixels, or sums of pixels over blocks), one pair
;; at a time, that stop early once the partial sum passes a limit (the k-th best distance found so far):
;;   l2sq(a, b, bytes, lim) = sum_p (a_p - b_p)^2, or the first partial sum (every 64 values) above lim
;;   l1(a, b, bytes, lim)   = sum_p |a_p - b_p|,   likewise
;; a and b are byte offsets of rows that are `bytes` long, a multiple of 16 (rows are zero-padded to a
;; multiple of 8 values). The caller guarantees that differences fit in 16 bits and sums in 31 bits.
(module
  (memory (export "memory") 1)

  (func $hsum (param $v v128) (result i32)
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $v)) (i32x4.extract_lane 1 (local.get $v)))
      (i32.add (i32x4.extract_lane 2 (local.get $v)) (i32x4.extract_lane 3 (local.get $v)))))

  (func (export "l2sq") (param $a i32) (param $b i32) (param $bytes i32) (param $lim i32) (result i32)
    (local $k i32) (local $stop i32) (local $total i32) (local $d v128) (local $s v128)
    (block $done
      (loop $chunks
        (br_if $done (i32.ge_u (local.get $k) (local.get $bytes)))
        ;; 128 bytes = 64 values between checks against the limit
        (local.set $stop (i32.add (local.get $k) (i32.const 128)))
        (if (i32.gt_u (local.get $stop) (local.get $bytes)) (then (local.set $stop (local.get $bytes))))
        (local.set $s (v128.const i32x4 0 0 0 0))
        (block $cdone
          (loop $inner
            (br_if $cdone (i32.ge_u (local.get $k) (local.get $stop)))
            (local.set $d (i16x8.sub
              (v128.load (i32.add (local.get $a) (local.get $k)))
              (v128.load (i32.add (local.get $b) (local.get $k)))))
            (local.set $s (i32x4.add (local.get $s) (i32x4.dot_i16x8_s (local.get $d) (local.get $d))))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $inner)))
        (local.set $total (i32.add (local.get $total) (call $hsum (local.get $s))))
        (br_if $done (i32.gt_s (local.get $total) (local.get $lim)))
        (br $chunks)))
    (local.get $total))

  (func (export "l1") (param $a i32) (param $b i32) (param $bytes i32) (param $lim i32) (result i32)
    (local $k i32) (local $stop i32) (local $total i32) (local $s v128)
    (block $done
      (loop $chunks
        (br_if $done (i32.ge_u (local.get $k) (local.get $bytes)))
        (local.set $stop (i32.add (local.get $k) (i32.const 128)))
        (if (i32.gt_u (local.get $stop) (local.get $bytes)) (then (local.set $stop (local.get $bytes))))
        (local.set $s (v128.const i32x4 0 0 0 0))
        (block $cdone
          (loop $inner
            (br_if $cdone (i32.ge_u (local.get $k) (local.get $stop)))
            (local.set $s (i32x4.add (local.get $s) (i32x4.extadd_pairwise_i16x8_u (i16x8.abs (i16x8.sub
              (v128.load (i32.add (local.get $a) (local.get $k)))
              (v128.load (i32.add (local.get $b) (local.get $k))))))))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $inner)))
        (local.set $total (i32.add (local.get $total) (call $hsum (local.get $s))))
        (br_if $done (i32.gt_s (local.get $total) (local.get $lim)))
        (br $chunks)))
    (local.get $total)))
