;; PDQ's tent filter (pdq.ts): the box filter of Meta's reference (box1DFloat, Jarosz "Fast Image
;; Convolutions"), along rows and along columns, in single precision. f32 add, subtract and divide
;; are IEEE single precision, as the reference's `float` arithmetic is, so the values are the same
;; bit for bit; the JavaScript version (pdq.ts) rounds each step with Math.fround to the same end.
;; Columns are filtered four at a time in 128-bit SIMD, walking the image row by row; each lane
;; does one column's additions in the reference's order, so SIMD changes nothing but the speed.
;;
;; Memory is the module's own (exported), laid out by the caller: input, output, and a row of sums.
;; Pointers are byte offsets; values are f32, rows `width` values long.
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

  ;; Every row of the $width × $height image at $in, into $out.
  (func (export "rows") (param $in i32) (param $out i32) (param $width i32) (param $height i32) (param $window i32)
    (local $r i32) (local $stride i32)
    (local.set $stride (i32.shl (local.get $width) (i32.const 2)))
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
)
