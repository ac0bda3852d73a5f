;; Blockhash's pixel sums (blockhash.ts), in WebAssembly: for each row of an RGBA band, the sum of
;; R + G + B (765 for a fully transparent pixel, as the reference counts it) over each of a list of
;; column segments. blockhash.ts splits a row into segments lying wholly in one block plus the
;; single columns that straddle two, and weighs and adds these integer sums itself, so the hash
;; is the same bit for bit whichever path summed the pixels.
;;
;; Sums are i32: the caller keeps rows narrow enough that a segment cannot overflow. Four pixels
;; per SIMD step; the order of integer additions does not change the sum.
(module
  (memory (export "memory") 1)

  ;; One pixel's value at $p.
  (func $value (param $p i32) (result i32)
    (if (result i32) (i32.eqz (i32.load8_u offset=3 (local.get $p)))
      (then (i32.const 765))
      (else (i32.add (i32.add (i32.load8_u (local.get $p)) (i32.load8_u offset=1 (local.get $p))) (i32.load8_u offset=2 (local.get $p))))))

  ;; The sum of the values of the pixels from byte $p to byte $end.
  (func $segment (param $p i32) (param $end i32) (result i32)
    (local $acc v128) (local $sum i32) (local $v v128) (local $rgb v128) (local $opaque v128) (local $clear v128)
    ;; Constants in locals, so that they stay in registers across the loop (a third faster).
    (local.set $rgb (i32x4.splat (i32.const 0x00ffffff)))
    (local.set $opaque (i32x4.splat (i32.const 0x01000000)))
    (local.set $clear (i32x4.splat (i32.const 765)))
    (block $d (loop $l
      (br_if $d (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
      (local.set $v (v128.load (local.get $p)))
      ;; Four pixels: R + G + B of each by two pairwise widening additions (alpha masked off), or
      ;; 765 where alpha is 0, that is where the little-endian word is below 2^24.
      (local.set $acc (i32x4.add (local.get $acc)
        (v128.bitselect
          (local.get $clear)
          (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (v128.and (local.get $v) (local.get $rgb))))
          (i32x4.lt_u (local.get $v) (local.get $opaque)))))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br $l)))
    (local.set $sum (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
      (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc)))))
    (block $d2 (loop $l2
      (br_if $d2 (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $sum (i32.add (local.get $sum) (call $value (local.get $p))))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br $l2)))
    (local.get $sum))

  ;; For each of $rows rows of $rowBytes bytes at $band, and each of the $count segments at
  ;; $segments (pairs of i32: first byte and end byte within a row), the segment's sum, into $out
  ;; ($count i32 per row).
  (func (export "sums") (param $band i32) (param $rowBytes i32) (param $rows i32) (param $segments i32) (param $count i32) (param $out i32)
    (local $r i32) (local $s i32) (local $row i32) (local $seg i32)
    (block $dr (loop $lr
      (br_if $dr (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $row (i32.add (local.get $band) (i32.mul (local.get $r) (local.get $rowBytes))))
      (local.set $s (i32.const 0))
      (local.set $seg (local.get $segments))
      (block $ds (loop $ls
        (br_if $ds (i32.ge_u (local.get $s) (local.get $count)))
        (i32.store (local.get $out)
          (call $segment
            (i32.add (local.get $row) (i32.load (local.get $seg)))
            (i32.add (local.get $row) (i32.load offset=4 (local.get $seg)))))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $seg (i32.add (local.get $seg) (i32.const 8)))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br $ls)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $lr))))
)
