;; PDQ's pixel maths after decoding (pdq.ts), in WebAssembly: luminance, the tent filter (the
;; box filter of Meta's reference, box1DFloat, after Jarosz "Fast Image Convolutions"), decimation
;; to 64 × 64, the 16 × 16 DCT and the quality score. All arithmetic is IEEE single precision, as
;; the reference's `float` arithmetic is, and every sum is taken in the reference's order, so the
;; results are the same bit for bit; the JavaScript fallback (pdq.ts) rounds each step with
;; Math.fround to the same end. SIMD only ever puts independent sums (different pixels, columns
;; or coefficients) side by side in its lanes: it changes nothing but the speed.
;;
;; Memory is the module's own (exported), laid out by the caller (pdq.ts). Pointers are byte
;; offsets; values are f32, image rows `width` values long.
(module
  (memory (export "memory") 1)

  ;; One row of `n` values at $in, filtered with a window of $window into $out.
  (func $row (param $in i32) (param $out i32) (param $n i32) (param $window i32)
    (local $half i32) (local $i i32) (local $sum f32) (local $size i32) (local $left i32) (local $right i32) (local $o i32)
    (local.set $half (i32.div_u (i32.add (local.get $window) (i32.const 2)) (i32.const 2)))
    (local.set $right (local.get $in))
    (local.set $left (local.get $in))
    (local.set $o (local.get $out))
    ;; Phase 1: the first half - 1 values, summed, nothing written.
    (local.set $i (i32.const 0))
    (block $d1 (loop $l1
      (br_if $d1 (i32.ge_s (local.get $i) (i32.sub (local.get $half) (i32.const 1))))
      (local.set $sum (f32.add (local.get $sum) (f32.load (local.get $right))))
      (local.set $size (i32.add (local.get $size) (i32.const 1)))
      (local.set $right (i32.add (local.get $right) (i32.const 4)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l1)))
    ;; Phase 2: the window grows to full size; a mean written each step.
    (local.set $i (i32.const 0))
    (block $d2 (loop $l2
      (br_if $d2 (i32.ge_s (local.get $i) (i32.add (i32.sub (local.get $window) (local.get $half)) (i32.const 1))))
      (local.set $sum (f32.add (local.get $sum) (f32.load (local.get $right))))
      (local.set $size (i32.add (local.get $size) (i32.const 1)))
      (f32.store (local.get $o) (f32.div (local.get $sum) (f32.convert_i32_s (local.get $size))))
      (local.set $right (i32.add (local.get $right) (i32.const 4)))
      (local.set $o (i32.add (local.get $o) (i32.const 4)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l2)))
    ;; Phase 3: the full window slides: one value in, one out.
    (local.set $i (i32.const 0))
    (block $d3 (loop $l3
      (br_if $d3 (i32.ge_s (local.get $i) (i32.sub (local.get $n) (local.get $window))))
      (local.set $sum (f32.sub (f32.add (local.get $sum) (f32.load (local.get $right))) (f32.load (local.get $left))))
      (f32.store (local.get $o) (f32.div (local.get $sum) (f32.convert_i32_s (local.get $size))))
      (local.set $left (i32.add (local.get $left) (i32.const 4)))
      (local.set $right (i32.add (local.get $right) (i32.const 4)))
      (local.set $o (i32.add (local.get $o) (i32.const 4)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l3)))
    ;; Phase 4: the window shrinks at the end.
    (local.set $i (i32.const 0))
    (block $d4 (loop $l4
      (br_if $d4 (i32.ge_s (local.get $i) (i32.sub (local.get $half) (i32.const 1))))
      (local.set $sum (f32.sub (local.get $sum) (f32.load (local.get $left))))
      (local.set $size (i32.sub (local.get $size) (i32.const 1)))
      (f32.store (local.get $o) (f32.div (local.get $sum) (f32.convert_i32_s (local.get $size))))
      (local.set $left (i32.add (local.get $left) (i32.const 4)))
      (local.set $o (i32.add (local.get $o) (i32.const 4)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l4))))

  ;; Four rows at once (from $in and $out, rows $stride bytes apart), one row per SIMD lane:
  ;; the same additions, subtractions and divisions as $row, in the same order, for each row.
  ;; $row's four phases as one loop over t = 0 .. n + half − 2: value t comes in while t < n, value
  ;; t − window goes out from t = window on, and output t − half + 1 is written from t = half − 1
  ;; on. Each row's running sum is a chain of dependent additions; four chains side by side overlap
  ;; where one would wait on each addition (rows were most of the filter's time).
  (func $rows4 (param $in i32) (param $out i32) (param $n i32) (param $window i32) (param $stride i32)
    (local $half i32) (local $t i32) (local $end i32) (local $size i32) (local $sum v128) (local $p i32) (local $v v128)
    (local $stride2 i32) (local $stride3 i32) (local $sizes v128)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128) (local $u0 v128) (local $u1 v128) (local $u2 v128) (local $u3 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $o0 v128) (local $o1 v128) (local $o2 v128) (local $o3 v128)
    (local.set $stride2 (i32.shl (local.get $stride) (i32.const 1)))
    (local.set $stride3 (i32.add (local.get $stride2) (local.get $stride)))
    (local.set $half (i32.div_u (i32.add (local.get $window) (i32.const 2)) (i32.const 2)))
    (local.set $end (i32.sub (i32.add (local.get $n) (local.get $half)) (i32.const 1)))
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $t) (local.get $end)))
      ;; The bulk of the row, where the window is whole: four steps at once. Four values of each
      ;; of the four rows are loaded as vectors and transposed (a vector per column, a lane per
      ;; row), stepped through in order, and the four outputs transposed back: a third of the
      ;; instructions of gathering and scattering lane by lane.
      (if (i32.and (i32.ge_s (local.get $t) (local.get $window)) (i32.le_s (i32.add (local.get $t) (i32.const 4)) (local.get $n))) (then
        (local.set $sizes (f32x4.splat (f32.convert_i32_s (local.get $size))))
        (local.set $p (i32.add (local.get $in) (i32.shl (local.get $t) (i32.const 2))))
        (local.set $r0 (v128.load (local.get $p)))
        (local.set $r1 (v128.load (i32.add (local.get $p) (local.get $stride))))
        (local.set $r2 (v128.load (i32.add (local.get $p) (local.get $stride2))))
        (local.set $r3 (v128.load (i32.add (local.get $p) (local.get $stride3))))
        (local.set $u0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
        (local.set $u1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
        (local.set $u2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
        (local.set $u3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
        (local.set $a0 (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u0) (local.get $u2)))
        (local.set $a1 (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u0) (local.get $u2)))
        (local.set $a2 (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u1) (local.get $u3)))
        (local.set $a3 (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u1) (local.get $u3)))
        (local.set $p (i32.add (local.get $in) (i32.shl (i32.sub (local.get $t) (local.get $window)) (i32.const 2))))
        (local.set $r0 (v128.load (local.get $p)))
        (local.set $r1 (v128.load (i32.add (local.get $p) (local.get $stride))))
        (local.set $r2 (v128.load (i32.add (local.get $p) (local.get $stride2))))
        (local.set $r3 (v128.load (i32.add (local.get $p) (local.get $stride3))))
        (local.set $u0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
        (local.set $u1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
        (local.set $u2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
        (local.set $u3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
        (local.set $s0 (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u0) (local.get $u2)))
        (local.set $s1 (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u0) (local.get $u2)))
        (local.set $s2 (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u1) (local.get $u3)))
        (local.set $s3 (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u1) (local.get $u3)))
        (local.set $sum (f32x4.sub (f32x4.add (local.get $sum) (local.get $a0)) (local.get $s0)))
        (local.set $o0 (f32x4.div (local.get $sum) (local.get $sizes)))
        (local.set $sum (f32x4.sub (f32x4.add (local.get $sum) (local.get $a1)) (local.get $s1)))
        (local.set $o1 (f32x4.div (local.get $sum) (local.get $sizes)))
        (local.set $sum (f32x4.sub (f32x4.add (local.get $sum) (local.get $a2)) (local.get $s2)))
        (local.set $o2 (f32x4.div (local.get $sum) (local.get $sizes)))
        (local.set $sum (f32x4.sub (f32x4.add (local.get $sum) (local.get $a3)) (local.get $s3)))
        (local.set $o3 (f32x4.div (local.get $sum) (local.get $sizes)))
        (local.set $u0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $o0) (local.get $o1)))
        (local.set $u1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $o0) (local.get $o1)))
        (local.set $u2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $o2) (local.get $o3)))
        (local.set $u3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $o2) (local.get $o3)))
        (local.set $r0 (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u0) (local.get $u2)))
        (local.set $r1 (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u0) (local.get $u2)))
        (local.set $r2 (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u1) (local.get $u3)))
        (local.set $r3 (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u1) (local.get $u3)))
        (local.set $p (i32.add (local.get $out) (i32.shl (i32.add (i32.sub (local.get $t) (local.get $half)) (i32.const 1)) (i32.const 2))))
        (v128.store (local.get $p) (local.get $r0))
        (v128.store (i32.add (local.get $p) (local.get $stride)) (local.get $r1))
        (v128.store (i32.add (local.get $p) (local.get $stride2)) (local.get $r2))
        (v128.store (i32.add (local.get $p) (local.get $stride3)) (local.get $r3))
        (local.set $t (i32.add (local.get $t) (i32.const 4)))
        (br $next)))
      (if (i32.lt_s (local.get $t) (local.get $n)) (then
        (local.set $p (i32.add (local.get $in) (i32.shl (local.get $t) (i32.const 2))))
        (local.set $sum (f32x4.add (local.get $sum)
          (f32x4.replace_lane 3 (f32x4.replace_lane 2 (f32x4.replace_lane 1
            (f32x4.splat (f32.load (local.get $p)))
            (f32.load (i32.add (local.get $p) (local.get $stride))))
            (f32.load (i32.add (local.get $p) (local.get $stride2))))
            (f32.load (i32.add (local.get $p) (local.get $stride3))))))
        (local.set $size (i32.add (local.get $size) (i32.const 1)))))
      (if (i32.ge_s (local.get $t) (local.get $window)) (then
        (local.set $p (i32.add (local.get $in) (i32.shl (i32.sub (local.get $t) (local.get $window)) (i32.const 2))))
        (local.set $sum (f32x4.sub (local.get $sum)
          (f32x4.replace_lane 3 (f32x4.replace_lane 2 (f32x4.replace_lane 1
            (f32x4.splat (f32.load (local.get $p)))
            (f32.load (i32.add (local.get $p) (local.get $stride))))
            (f32.load (i32.add (local.get $p) (local.get $stride2))))
            (f32.load (i32.add (local.get $p) (local.get $stride3))))))
        (local.set $size (i32.sub (local.get $size) (i32.const 1)))))
      (if (i32.ge_s (local.get $t) (i32.sub (local.get $half) (i32.const 1))) (then
        (local.set $p (i32.add (local.get $out) (i32.shl (i32.add (i32.sub (local.get $t) (local.get $half)) (i32.const 1)) (i32.const 2))))
        (local.set $v (f32x4.div (local.get $sum) (f32x4.splat (f32.convert_i32_s (local.get $size)))))
        (f32.store (local.get $p) (f32x4.extract_lane 0 (local.get $v)))
        (f32.store (i32.add (local.get $p) (local.get $stride)) (f32x4.extract_lane 1 (local.get $v)))
        (f32.store (i32.add (local.get $p) (local.get $stride2)) (f32x4.extract_lane 2 (local.get $v)))
        (f32.store (i32.add (local.get $p) (local.get $stride3)) (f32x4.extract_lane 3 (local.get $v)))))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $next))))

  ;; Every row of the $width × $height image at $in, into $out: four at a time, then the rest one by one.
  (func (export "rows") (param $in i32) (param $out i32) (param $width i32) (param $height i32) (param $window i32)
    (local $r i32) (local $stride i32)
    (local.set $stride (i32.shl (local.get $width) (i32.const 2)))
    (block $done4 (loop $next4
      (br_if $done4 (i32.gt_s (i32.add (local.get $r) (i32.const 4)) (local.get $height)))
      (call $rows4
        (i32.add (local.get $in) (i32.mul (local.get $r) (local.get $stride)))
        (i32.add (local.get $out) (i32.mul (local.get $r) (local.get $stride)))
        (local.get $width) (local.get $window) (local.get $stride))
      (local.set $r (i32.add (local.get $r) (i32.const 4)))
      (br $next4)))
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $r) (local.get $height)))
      (call $row
        (i32.add (local.get $in) (i32.mul (local.get $r) (local.get $stride)))
        (i32.add (local.get $out) (i32.mul (local.get $r) (local.get $stride)))
        (local.get $width) (local.get $window))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $next))))

  ;; One step of the column filter over a whole row: for every column j, sums[j] += in[j] (when
  ;; $add), sums[j] -= sub[j] (when $sub), then out[j] = sums[j] / size (when $write).
  (func $step (param $sums i32) (param $add i32) (param $sub i32) (param $out i32) (param $width i32)
    (param $doAdd i32) (param $doSub i32) (param $doWrite i32) (param $size f32)
    (local $j i32) (local $end4 i32) (local $v v128) (local $s f32) (local $sizes v128)
    (local.set $sizes (f32x4.splat (local.get $size)))
    (local.set $end4 (i32.and (local.get $width) (i32.const -4)))
    (block $d (loop $l
      (br_if $d (i32.ge_s (local.get $j) (local.get $end4)))
      (local.set $v (v128.load (i32.add (local.get $sums) (i32.shl (local.get $j) (i32.const 2)))))
      (if (local.get $doAdd) (then (local.set $v (f32x4.add (local.get $v) (v128.load (i32.add (local.get $add) (i32.shl (local.get $j) (i32.const 2))))))))
      (if (local.get $doSub) (then (local.set $v (f32x4.sub (local.get $v) (v128.load (i32.add (local.get $sub) (i32.shl (local.get $j) (i32.const 2))))))))
      (v128.store (i32.add (local.get $sums) (i32.shl (local.get $j) (i32.const 2))) (local.get $v))
      (if (local.get $doWrite) (then (v128.store (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 2))) (f32x4.div (local.get $v) (local.get $sizes)))))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $l)))
    (block $d2 (loop $l2
      (br_if $d2 (i32.ge_s (local.get $j) (local.get $width)))
      (local.set $s (f32.load (i32.add (local.get $sums) (i32.shl (local.get $j) (i32.const 2)))))
      (if (local.get $doAdd) (then (local.set $s (f32.add (local.get $s) (f32.load (i32.add (local.get $add) (i32.shl (local.get $j) (i32.const 2))))))))
      (if (local.get $doSub) (then (local.set $s (f32.sub (local.get $s) (f32.load (i32.add (local.get $sub) (i32.shl (local.get $j) (i32.const 2))))))))
      (f32.store (i32.add (local.get $sums) (i32.shl (local.get $j) (i32.const 2))) (local.get $s))
      (if (local.get $doWrite) (then (f32.store (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 2))) (f32.div (local.get $s) (local.get $size)))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $l2))))

  ;; Every column of the image at $in, into $out, with $sums ($width f32, zeroed here) as scratch.
  (func (export "columns") (param $in i32) (param $out i32) (param $sums i32) (param $width i32) (param $height i32) (param $window i32)
    (local $half i32) (local $i i32) (local $size i32) (local $left i32) (local $right i32) (local $o i32) (local $stride i32)
    (local.set $half (i32.div_u (i32.add (local.get $window) (i32.const 2)) (i32.const 2)))
    (local.set $stride (i32.shl (local.get $width) (i32.const 2)))
    (memory.fill (local.get $sums) (i32.const 0) (local.get $stride))
    (local.set $right (local.get $in))
    (local.set $left (local.get $in))
    (local.set $o (local.get $out))
    (local.set $i (i32.const 0))
    (block $d1 (loop $l1
      (br_if $d1 (i32.ge_s (local.get $i) (i32.sub (local.get $half) (i32.const 1))))
      (local.set $size (i32.add (local.get $size) (i32.const 1)))
      (call $step (local.get $sums) (local.get $right) (i32.const 0) (i32.const 0) (local.get $width) (i32.const 1) (i32.const 0) (i32.const 0) (f32.const 1))
      (local.set $right (i32.add (local.get $right) (local.get $stride)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l1)))
    (local.set $i (i32.const 0))
    (block $d2 (loop $l2
      (br_if $d2 (i32.ge_s (local.get $i) (i32.add (i32.sub (local.get $window) (local.get $half)) (i32.const 1))))
      (local.set $size (i32.add (local.get $size) (i32.const 1)))
      (call $step (local.get $sums) (local.get $right) (i32.const 0) (local.get $o) (local.get $width) (i32.const 1) (i32.const 0) (i32.const 1) (f32.convert_i32_s (local.get $size)))
      (local.set $right (i32.add (local.get $right) (local.get $stride)))
      (local.set $o (i32.add (local.get $o) (local.get $stride)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l2)))
    (local.set $i (i32.const 0))
    (block $d3 (loop $l3
      (br_if $d3 (i32.ge_s (local.get $i) (i32.sub (local.get $height) (local.get $window))))
      (call $step (local.get $sums) (local.get $right) (local.get $left) (local.get $o) (local.get $width) (i32.const 1) (i32.const 1) (i32.const 1) (f32.convert_i32_s (local.get $size)))
      (local.set $left (i32.add (local.get $left) (local.get $stride)))
      (local.set $right (i32.add (local.get $right) (local.get $stride)))
      (local.set $o (i32.add (local.get $o) (local.get $stride)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l3)))
    (local.set $i (i32.const 0))
    (block $d4 (loop $l4
      (br_if $d4 (i32.ge_s (local.get $i) (i32.sub (local.get $half) (i32.const 1))))
      (local.set $size (i32.sub (local.get $size) (i32.const 1)))
      (call $step (local.get $sums) (i32.const 0) (local.get $left) (local.get $o) (local.get $width) (i32.const 0) (i32.const 1) (i32.const 1) (f32.convert_i32_s (local.get $size)))
      (local.set $left (i32.add (local.get $left) (local.get $stride)))
      (local.set $o (i32.add (local.get $o) (local.get $stride)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l4))))
  ;; Luminance of $n RGBA pixels at $p, written over them in place (a pixel's 4 bytes become its
  ;; f32): Y = 0.299 R + 0.587 G + 0.114 B, each product and each sum rounded to f32, as the
  ;; reference computes it. Four pixels per step.
  (func (export "luma") (param $p i32) (param $n i32)
    (local $end i32) (local $v v128) (local $x i32)
    (local.set $end (i32.add (local.get $p) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $v (v128.load (local.get $p)))
      (v128.store (local.get $p)
        (f32x4.add
          (f32x4.add
            (f32x4.mul (f32x4.splat (f32.const 0.299)) (f32x4.convert_i32x4_s (v128.and (local.get $v) (i32x4.splat (i32.const 255)))))
            (f32x4.mul (f32x4.splat (f32.const 0.587)) (f32x4.convert_i32x4_s (v128.and (i32x4.shr_u (local.get $v) (i32.const 8)) (i32x4.splat (i32.const 255))))))
          (f32x4.mul (f32x4.splat (f32.const 0.114)) (f32x4.convert_i32x4_s (v128.and (i32x4.shr_u (local.get $v) (i32.const 16)) (i32x4.splat (i32.const 255)))))))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br $l)))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $d2 (loop $l2
      (br_if $d2 (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $x (i32.load (local.get $p)))
      (f32.store (local.get $p)
        (f32.add
          (f32.add
            (f32.mul (f32.const 0.299) (f32.convert_i32_s (i32.and (local.get $x) (i32.const 255))))
            (f32.mul (f32.const 0.587) (f32.convert_i32_s (i32.and (i32.shr_u (local.get $x) (i32.const 8)) (i32.const 255)))))
          (f32.mul (f32.const 0.114) (f32.convert_i32_s (i32.and (i32.shr_u (local.get $x) (i32.const 16)) (i32.const 255))))))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br $l2))))

  ;; The 64 columns the decimation samples, floor((2j + 1) * width / 128), of the $width × $height
  ;; image at $in, into the 64 × $height image at $out: the last column pass of the filter then runs
  ;; on these alone (each column's sums are its own, so the values are the same).
  (func (export "gatherColumns") (param $in i32) (param $out i32) (param $width i32) (param $height i32)
    (local $y i32) (local $j i32) (local $row i32)
    (block $dy (loop $ly
      (br_if $dy (i32.ge_u (local.get $y) (local.get $height)))
      (local.set $row (i32.add (local.get $in) (i32.shl (i32.mul (local.get $y) (local.get $width)) (i32.const 2))))
      (local.set $j (i32.const 0))
      (block $dj (loop $lj
        (br_if $dj (i32.ge_u (local.get $j) (i32.const 64)))
        (f32.store (local.get $out)
          (f32.load (i32.add (local.get $row)
            (i32.shl (i32.div_u (i32.mul (i32.add (i32.shl (local.get $j) (i32.const 1)) (i32.const 1)) (local.get $width)) (i32.const 128)) (i32.const 2)))))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $lj)))
      (local.set $y (i32.add (local.get $y) (i32.const 1)))
      (br $ly))))

  ;; The 64 × 64 samples of the $width × $height image at $in, into $out: the value at the centre of
  ;; each cell, row floor((i + 1/2) * height / 64) = floor((2i + 1) * height / 128), likewise for columns.
  (func (export "decimate") (param $in i32) (param $out i32) (param $width i32) (param $height i32)
    (local $i i32) (local $j i32) (local $row i32)
    (block $di (loop $li
      (br_if $di (i32.ge_u (local.get $i) (i32.const 64)))
      (local.set $row (i32.add (local.get $in)
        (i32.shl (i32.mul (i32.div_u (i32.mul (i32.add (i32.shl (local.get $i) (i32.const 1)) (i32.const 1)) (local.get $height)) (i32.const 128)) (local.get $width)) (i32.const 2))))
      (local.set $j (i32.const 0))
      (block $dj (loop $lj
        (br_if $dj (i32.ge_u (local.get $j) (i32.const 64)))
        (f32.store (local.get $out)
          (f32.load (i32.add (local.get $row)
            (i32.shl (i32.div_u (i32.mul (i32.add (i32.shl (local.get $j) (i32.const 1)) (i32.const 1)) (local.get $width)) (i32.const 128)) (i32.const 2)))))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $lj)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $li))))

  ;; The 16 × 16 DCT coefficients B = D · A · Dᵀ of the 64 × 64 samples at $a, into $b, with $t
  ;; (16 × 64) as scratch. $d is the 16 × 64 matrix D and $dt its transpose (64 × 16), both filled
  ;; by the caller. Each coefficient is a sum over k from 0 to 63 in order, four coefficients of
  ;; a row per step.
  (func (export "dct") (param $d i32) (param $dt i32) (param $a i32) (param $t i32) (param $b i32)
    (local $i i32) (local $j i32) (local $k i32) (local $acc v128)
    ;; T = D · A: T[i][j] = Σₖ D[i][k] · A[k][j].
    (block $di (loop $li
      (br_if $di (i32.ge_u (local.get $i) (i32.const 16)))
      (local.set $j (i32.const 0))
      (block $dj (loop $lj
        (br_if $dj (i32.ge_u (local.get $j) (i32.const 64)))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (local.set $k (i32.const 0))
        (block $dk (loop $lk
          (br_if $dk (i32.ge_u (local.get $k) (i32.const 64)))
          (local.set $acc (f32x4.add (local.get $acc)
            (f32x4.mul
              (f32x4.splat (f32.load (i32.add (local.get $d) (i32.shl (i32.add (i32.shl (local.get $i) (i32.const 6)) (local.get $k)) (i32.const 2)))))
              (v128.load (i32.add (local.get $a) (i32.shl (i32.add (i32.shl (local.get $k) (i32.const 6)) (local.get $j)) (i32.const 2)))))))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $lk)))
        (v128.store (i32.add (local.get $t) (i32.shl (i32.add (i32.shl (local.get $i) (i32.const 6)) (local.get $j)) (i32.const 2))) (local.get $acc))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $lj)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $li)))
    ;; B = T · Dᵀ: B[i][j] = Σₖ T[i][k] · D[j][k] = Σₖ T[i][k] · Dᵀ[k][j].
    (local.set $i (i32.const 0))
    (block $di2 (loop $li2
      (br_if $di2 (i32.ge_u (local.get $i) (i32.const 16)))
      (local.set $j (i32.const 0))
      (block $dj2 (loop $lj2
        (br_if $dj2 (i32.ge_u (local.get $j) (i32.const 16)))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (local.set $k (i32.const 0))
        (block $dk2 (loop $lk2
          (br_if $dk2 (i32.ge_u (local.get $k) (i32.const 64)))
          (local.set $acc (f32x4.add (local.get $acc)
            (f32x4.mul
              (f32x4.splat (f32.load (i32.add (local.get $t) (i32.shl (i32.add (i32.shl (local.get $i) (i32.const 6)) (local.get $k)) (i32.const 2)))))
              (v128.load (i32.add (local.get $dt) (i32.shl (i32.add (i32.shl (local.get $k) (i32.const 4)) (local.get $j)) (i32.const 2)))))))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $lk2)))
        (v128.store (i32.add (local.get $b) (i32.shl (i32.add (i32.shl (local.get $i) (i32.const 4)) (local.get $j)) (i32.const 2))) (local.get $acc))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $lj2)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $li2))))

  ;; |trunc((u − v) · 100 / 255)|, each step rounded to f32: one neighbour pair's share of the quality.
  (func $gradient (param $u f32) (param $v f32) (result i32)
    (local $x i32)
    (local.set $x (i32.trunc_f32_s (f32.div (f32.mul (f32.sub (local.get $u) (local.get $v)) (f32.const 100)) (f32.const 255))))
    (select (i32.sub (i32.const 0) (local.get $x)) (local.get $x) (i32.lt_s (local.get $x) (i32.const 0))))

  ;; The quality sum of the 64 × 64 samples at $a: over vertical then horizontal neighbour pairs
  ;; (pdq.ts divides it by 90 and caps it at 100).
  (func (export "gradients") (param $a i32) (result i32)
    (local $i i32) (local $j i32) (local $sum i32) (local $p i32)
    (block $di (loop $li
      (br_if $di (i32.ge_u (local.get $i) (i32.const 63)))
      (local.set $j (i32.const 0))
      (block $dj (loop $lj
        (br_if $dj (i32.ge_u (local.get $j) (i32.const 64)))
        (local.set $p (i32.add (local.get $a) (i32.shl (i32.add (i32.shl (local.get $i) (i32.const 6)) (local.get $j)) (i32.const 2))))
        (local.set $sum (i32.add (local.get $sum) (call $gradient (f32.load (local.get $p)) (f32.load offset=256 (local.get $p)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $lj)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $li)))
    (local.set $i (i32.const 0))
    (block $di2 (loop $li2
      (br_if $di2 (i32.ge_u (local.get $i) (i32.const 64)))
      (local.set $j (i32.const 0))
      (block $dj2 (loop $lj2
        (br_if $dj2 (i32.ge_u (local.get $j) (i32.const 63)))
        (local.set $p (i32.add (local.get $a) (i32.shl (i32.add (i32.shl (local.get $i) (i32.const 6)) (local.get $j)) (i32.const 2))))
        (local.set $sum (i32.add (local.get $sum) (call $gradient (f32.load (local.get $p)) (f32.load offset=4 (local.get $p)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $lj2)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $li2)))
    (local.get $sum))

  ;; One row of the reference's nearest-neighbour reduction, straight to luma: $count pixels (a
  ;; multiple of 4) into $dst as f32, pixel x taken from byte offset columns[x] of the source row at
  ;; $src. Four pixels are gathered into one vector and turned into luma as "luma" does, which
  ;; saves writing the RGBA and reading it back.
  (func (export "gatherLuma") (param $src i32) (param $dst i32) (param $columns i32) (param $count i32)
    (local $end i32) (local $v v128)
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $count) (i32.const 2))))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $dst) (local.get $end)))
      (local.set $v (i32x4.replace_lane 3 (i32x4.replace_lane 2 (i32x4.replace_lane 1
        (v128.load32_zero (i32.add (local.get $src) (i32.load (local.get $columns))))
        (i32.load (i32.add (local.get $src) (i32.load offset=4 (local.get $columns)))))
        (i32.load (i32.add (local.get $src) (i32.load offset=8 (local.get $columns)))))
        (i32.load (i32.add (local.get $src) (i32.load offset=12 (local.get $columns))))))
      (v128.store (local.get $dst)
        (f32x4.add
          (f32x4.add
            (f32x4.mul (f32x4.splat (f32.const 0.299)) (f32x4.convert_i32x4_s (v128.and (local.get $v) (i32x4.splat (i32.const 255)))))
            (f32x4.mul (f32x4.splat (f32.const 0.587)) (f32x4.convert_i32x4_s (v128.and (i32x4.shr_u (local.get $v) (i32.const 8)) (i32x4.splat (i32.const 255))))))
          (f32x4.mul (f32x4.splat (f32.const 0.114)) (f32x4.convert_i32x4_s (v128.and (i32x4.shr_u (local.get $v) (i32.const 16)) (i32x4.splat (i32.const 255)))))))
      (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
      (local.set $columns (i32.add (local.get $columns) (i32.const 16)))
      (br $l))))
)
