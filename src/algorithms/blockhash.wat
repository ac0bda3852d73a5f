;; Blockhash's pixel sums (blockhash.ts), in WebAssembly: over a group of consecutive rows of an
;; RGBA band, the sum of R + G + B (765 for a fully transparent pixel, as the reference counts it)
;; over each of a list of column segments. blockhash.ts splits a row into segments lying wholly in
;; one block plus the single columns that straddle two, groups the rows lying wholly in one block
;; row (a row straddling two is a group of its own), and weighs and adds these integer sums itself,
;; so the hash is the same bit for bit whichever path summed the pixels.
;;
;; Opaque groups (the usual case) are summed down the columns first, four pixels per SIMD step in
;; 16-bit lanes, and across each segment once per group; groups with a transparent pixel are summed
;; segment by segment, row by row. Sums are i32: the caller keeps groups small enough that a
;; segment's sum cannot overflow. The order of integer additions does not change a sum.
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
    ;; Constants in locals, so that they stay in registers across the loop.
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

;; Whether any pixel from byte $p to byte $end has alpha 0: the least byte over the words with
  ;; R, G and B forced to 255 is the least alpha.
  (func $anyClear (param $p i32) (param $end i32) (result i32)
    (local $min v128) (local $rgb v128)
    (local.set $min (i32x4.splat (i32.const -1)))
    (local.set $rgb (i32x4.splat (i32.const 0x00ffffff)))
    (block $d (loop $l
      (br_if $d (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
      (local.set $min (i8x16.min_u (local.get $min) (v128.or (v128.load (local.get $p)) (local.get $rgb))))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br $l)))
    (if (v128.any_true (i32x4.lt_u (local.get $min) (i32x4.splat (i32.const 0x01000000)))) (then (return (i32.const 1))))
    (block $d2 (loop $l2
      (br_if $d2 (i32.ge_u (local.get $p) (local.get $end)))
      (if (i32.eqz (i32.load8_u offset=3 (local.get $p))) (then (return (i32.const 1))))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br $l2)))
    (i32.const 0))

  ;; Adds the 16-bit column sums at $acc16 into the 32-bit per-pixel sums at $acc32 ($rowBytes bytes
  ;; each: per pixel, two 16-bit lanes R + G and B, or one 32-bit sum) and clears $acc16.
  (func $flush (param $acc16 i32) (param $acc32 i32) (param $rowBytes i32)
    (local $i i32) (local $end4 i32)
    (local.set $end4 (i32.and (local.get $rowBytes) (i32.const -16)))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $i) (local.get $end4)))
      (v128.store (i32.add (local.get $acc32) (local.get $i))
        (i32x4.add (v128.load (i32.add (local.get $acc32) (local.get $i)))
          (i32x4.extadd_pairwise_i16x8_u (v128.load (i32.add (local.get $acc16) (local.get $i))))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $l)))
    (memory.fill (local.get $acc16) (i32.const 0) (local.get $end4)))

  ;; Sums, over $rows rows of $rowBytes bytes at $band (a group: see the header), each of the $count
  ;; segments at $segments (pairs of i32: first byte and end byte within a row), into $out ($count
  ;; i32). $acc is scratch of 2 × $rowBytes bytes.
  (func (export "sums") (param $band i32) (param $rowBytes i32) (param $rows i32) (param $segments i32) (param $count i32) (param $out i32) (param $acc i32)
    (local $r i32) (local $s i32) (local $row i32) (local $seg i32) (local $acc32 i32) (local $i i32) (local $end4 i32)
    (local $steps i32) (local $rgb v128) (local $sum i32) (local $p i32) (local $end i32) (local $v v128)
    (if (call $anyClear (local.get $band) (i32.add (local.get $band) (i32.mul (local.get $rows) (local.get $rowBytes)))) (then
      ;; Some pixel is transparent: segment by segment, row by row.
      (memory.fill (local.get $out) (i32.const 0) (i32.shl (local.get $count) (i32.const 2)))
      (block $dr (loop $lr
        (br_if $dr (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $row (i32.add (local.get $band) (i32.mul (local.get $r) (local.get $rowBytes))))
        (local.set $s (i32.const 0))
        (local.set $seg (local.get $segments))
        (block $ds (loop $ls
          (br_if $ds (i32.ge_u (local.get $s) (local.get $count)))
          (local.set $p (i32.add (local.get $out) (i32.shl (local.get $s) (i32.const 2))))
          (i32.store (local.get $p) (i32.add (i32.load (local.get $p))
            (call $segment
              (i32.add (local.get $row) (i32.load (local.get $seg)))
              (i32.add (local.get $row) (i32.load offset=4 (local.get $seg))))))
          (local.set $seg (i32.add (local.get $seg) (i32.const 8)))
          (local.set $s (i32.add (local.get $s) (i32.const 1)))
          (br $ls)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $lr)))
      (return)))
    ;; Opaque: down the columns. Per pixel, R + G and B in two 16-bit lanes (alpha masked off), each
    ;; growing by at most 510 a row: 128 rows fit before they are flushed into 32 bits.
    (local.set $acc32 (i32.add (local.get $acc) (local.get $rowBytes)))
    (memory.fill (local.get $acc) (i32.const 0) (i32.shl (local.get $rowBytes) (i32.const 1)))
    (local.set $rgb (i32x4.splat (i32.const 0x00ffffff)))
    (local.set $end4 (i32.and (local.get $rowBytes) (i32.const -16)))
    (block $dr (loop $lr
      (br_if $dr (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $row (i32.add (local.get $band) (i32.mul (local.get $r) (local.get $rowBytes))))
      (local.set $i (i32.const 0))
      (block $di (loop $li
        (br_if $di (i32.ge_u (local.get $i) (local.get $end4)))
        (v128.store (i32.add (local.get $acc) (local.get $i))
          (i16x8.add (v128.load (i32.add (local.get $acc) (local.get $i)))
            (i16x8.extadd_pairwise_i8x16_u (v128.and (v128.load (i32.add (local.get $row) (local.get $i))) (local.get $rgb)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $li)))
      ;; The last pixels of a row whose width is not a multiple of 4, straight into 32 bits.
      (block $dt (loop $lt
        (br_if $dt (i32.ge_u (local.get $i) (local.get $rowBytes)))
        (local.set $p (i32.add (local.get $acc32) (local.get $i)))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (call $value (i32.add (local.get $row) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $lt)))
      (local.set $steps (i32.add (local.get $steps) (i32.const 1)))
      (if (i32.eq (local.get $steps) (i32.const 128)) (then
        (call $flush (local.get $acc) (local.get $acc32) (local.get $rowBytes))
        (local.set $steps (i32.const 0))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $lr)))
    (call $flush (local.get $acc) (local.get $acc32) (local.get $rowBytes))
    ;; Then across each segment of the per-pixel sums.
    (local.set $seg (local.get $segments))
    (block $ds (loop $ls
      (br_if $ds (i32.ge_u (local.get $s) (local.get $count)))
      (local.set $p (i32.add (local.get $acc32) (i32.load (local.get $seg))))
      (local.set $end (i32.add (local.get $acc32) (i32.load offset=4 (local.get $seg))))
      (local.set $v (v128.const i32x4 0 0 0 0))
      (block $dp (loop $lp
        (br_if $dp (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
        (local.set $v (i32x4.add (local.get $v) (v128.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $lp)))
      (local.set $sum (i32.add
        (i32.add (i32x4.extract_lane 0 (local.get $v)) (i32x4.extract_lane 1 (local.get $v)))
        (i32.add (i32x4.extract_lane 2 (local.get $v)) (i32x4.extract_lane 3 (local.get $v)))))
      (block $dq (loop $lq
        (br_if $dq (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $sum (i32.add (local.get $sum) (i32.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $lq)))
      (i32.store (i32.add (local.get $out) (i32.shl (local.get $s) (i32.const 2))) (local.get $sum))
      (local.set $seg (i32.add (local.get $seg) (i32.const 8)))
      (local.set $s (i32.add (local.get $s) (i32.const 1)))
      (br $ls))))
)
