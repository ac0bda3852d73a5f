;; The long-input loop of XXH3-64 (xxHash specification, XXH3 section: seed 0, the default secret
;; kSecret): the checksum of every snapshot section longer than 240 bytes (checksum.ts). This is the
;; part of XXH3 that reads every byte — accumulating 64-byte stripes into eight 64-bit accumulators
;; and scrambling them after each 1024-byte block — in 128-bit SIMD, two accumulators a vector.
;; The short-input hashes and the final merge of the accumulators stay in JavaScript (xxh3.ts),
;; which also holds the whole algorithm as the reference these functions are tested against.
;;
;; Memory is imported, so one compiled module hashes a section where it was read (a snapshot's
;; arena or the scan kernel's planes) with no copy; the secret is written into the code as
;; constants, which is why the 16 stripes of a block are written out. A hash is fed by several
;; calls, since V8 swaps in optimised code only between calls; state lives in globals, one hash at
;; a time per instance. The reasons, and which secret bytes each stripe uses: docs/algorithms.md,
;; "XXH3 checksums".
;;   begin(); blocks(p, n) ...; finish(p, stripes, last); acc(0..7) -> the accumulators to merge.
;;
;; Also ascending(p, n): whether n u32s at p never decrease — the shape check of a multi-index
;; table's bucket starts, which sit in the same arena.
(module
  (import "env" "memory" (memory 0))

  ;; acc[0..7] of the specification, two to a vector.
  (global $acc0 (mut v128) (v128.const i64x2 0 0))
  (global $acc1 (mut v128) (v128.const i64x2 0 0))
  (global $acc2 (mut v128) (v128.const i64x2 0 0))
  (global $acc3 (mut v128) (v128.const i64x2 0 0))

  ;; Starts a hash: PRIME32_3, PRIME64_1, PRIME64_2, PRIME64_3, PRIME64_4, PRIME32_2, PRIME64_5,
  ;; PRIME32_1.
  (func (export "begin")
    (global.set $acc0 (v128.const i64x2 0xC2B2AE3D 0x9E3779B185EBCA87))
    (global.set $acc1 (v128.const i64x2 0xC2B2AE3D27D4EB4F 0x165667B19E3779F9))
    (global.set $acc2 (v128.const i64x2 0x85EBCA77C2B2AE63 0x85EBCA77))
    (global.set $acc3 (v128.const i64x2 0x27D4EB2F165667C5 0x9E3779B1)))

  ;; The first $count (0..16) stripes of the block at $p. Per 64-bit lane i, with k = data[i] ^
  ;; secret[i]: acc[i ^ 1] += data[i] (a lane swap) and acc[i] += lo32(k) * hi32(k) (an unsigned
  ;; 32x32->64 multiply of lanes gathered by two shuffles).
  (func $accumulate (param $p i32) (param $count i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $d v128) (local $k v128)
    (local.set $a0 (global.get $acc0))
    (local.set $a1 (global.get $acc1))
    (local.set $a2 (global.get $acc2))
    (local.set $a3 (global.get $acc3))
    (block $out
    ;; stripe 0: bytes 0..63, secret from byte 0
    (br_if $out (i32.le_u (local.get $count) (i32.const 0)))
    (local.set $d (v128.load offset=0 align=1 (local.get $p)))
    (local.set $a0 (i64x2.add (local.get $a0) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xBE4BA423396CFEB8 0x1CAD21F72C81017C))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=16 align=1 (local.get $p)))
    (local.set $a1 (i64x2.add (local.get $a1) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xDB979083E96DD4DE 0x1F67B3B7A4A44072))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=32 align=1 (local.get $p)))
    (local.set $a2 (i64x2.add (local.get $a2) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x78E5C0CC4EE679CB 0x2172FFCC7DD05A82))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=48 align=1 (local.get $p)))
    (local.set $a3 (i64x2.add (local.get $a3) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x8E2443F7744608B8 0x4C263A81E69035E0))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    ;; stripe 1: bytes 64..127, secret from byte 8
    (br_if $out (i32.le_u (local.get $count) (i32.const 1)))
    (local.set $d (v128.load offset=64 align=1 (local.get $p)))
    (local.set $a0 (i64x2.add (local.get $a0) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x1CAD21F72C81017C 0xDB979083E96DD4DE))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=80 align=1 (local.get $p)))
    (local.set $a1 (i64x2.add (local.get $a1) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x1F67B3B7A4A44072 0x78E5C0CC4EE679CB))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=96 align=1 (local.get $p)))
    (local.set $a2 (i64x2.add (local.get $a2) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x2172FFCC7DD05A82 0x8E2443F7744608B8))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=112 align=1 (local.get $p)))
    (local.set $a3 (i64x2.add (local.get $a3) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x4C263A81E69035E0 0xCB00C391BB52283C))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    ;; stripe 2: bytes 128..191, secret from byte 16
    (br_if $out (i32.le_u (local.get $count) (i32.const 2)))
    (local.set $d (v128.load offset=128 align=1 (local.get $p)))
    (local.set $a0 (i64x2.add (local.get $a0) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xDB979083E96DD4DE 0x1F67B3B7A4A44072))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=144 align=1 (local.get $p)))
    (local.set $a1 (i64x2.add (local.get $a1) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x78E5C0CC4EE679CB 0x2172FFCC7DD05A82))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=160 align=1 (local.get $p)))
    (local.set $a2 (i64x2.add (local.get $a2) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x8E2443F7744608B8 0x4C263A81E69035E0))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=176 align=1 (local.get $p)))
    (local.set $a3 (i64x2.add (local.get $a3) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xCB00C391BB52283C 0xA32E531B8B65D088))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    ;; stripe 3: bytes 192..255, secret from byte 24
    (br_if $out (i32.le_u (local.get $count) (i32.const 3)))
    (local.set $d (v128.load offset=192 align=1 (local.get $p)))
    (local.set $a0 (i64x2.add (local.get $a0) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x1F67B3B7A4A44072 0x78E5C0CC4EE679CB))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=208 align=1 (local.get $p)))
    (local.set $a1 (i64x2.add (local.get $a1) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x2172FFCC7DD05A82 0x8E2443F7744608B8))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=224 align=1 (local.get $p)))
    (local.set $a2 (i64x2.add (local.get $a2) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x4C263A81E69035E0 0xCB00C391BB52283C))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=240 align=1 (local.get $p)))
    (local.set $a3 (i64x2.add (local.get $a3) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xA32E531B8B65D088 0x4EF90DA297486471))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    ;; stripe 4: bytes 256..319, secret from byte 32
    (br_if $out (i32.le_u (local.get $count) (i32.const 4)))
    (local.set $d (v128.load offset=256 align=1 (local.get $p)))
    (local.set $a0 (i64x2.add (local.get $a0) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x78E5C0CC4EE679CB 0x2172FFCC7DD05A82))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=272 align=1 (local.get $p)))
    (local.set $a1 (i64x2.add (local.get $a1) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x8E2443F7744608B8 0x4C263A81E69035E0))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=288 align=1 (local.get $p)))
    (local.set $a2 (i64x2.add (local.get $a2) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xCB00C391BB52283C 0xA32E531B8B65D088))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=304 align=1 (local.get $p)))
    (local.set $a3 (i64x2.add (local.get $a3) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x4EF90DA297486471 0xD8ACDEA946EF1938))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    ;; stripe 5: bytes 320..383, secret from byte 40
    (br_if $out (i32.le_u (local.get $count) (i32.const 5)))
    (local.set $d (v128.load offset=320 align=1 (local.get $p)))
    (local.set $a0 (i64x2.add (local.get $a0) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x2172FFCC7DD05A82 0x8E2443F7744608B8))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=336 align=1 (local.get $p)))
    (local.set $a1 (i64x2.add (local.get $a1) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x4C263A81E69035E0 0xCB00C391BB52283C))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=352 align=1 (local.get $p)))
    (local.set $a2 (i64x2.add (local.get $a2) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xA32E531B8B65D088 0x4EF90DA297486471))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=368 align=1 (local.get $p)))
    (local.set $a3 (i64x2.add (local.get $a3) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xD8ACDEA946EF1938 0x3F349CE33F76FAA8))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    ;; stripe 6: bytes 384..447, secret from byte 48
    (br_if $out (i32.le_u (local.get $count) (i32.const 6)))
    (local.set $d (v128.load offset=384 align=1 (local.get $p)))
    (local.set $a0 (i64x2.add (local.get $a0) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x8E2443F7744608B8 0x4C263A81E69035E0))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=400 align=1 (local.get $p)))
    (local.set $a1 (i64x2.add (local.get $a1) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xCB00C391BB52283C 0xA32E531B8B65D088))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=416 align=1 (local.get $p)))
    (local.set $a2 (i64x2.add (local.get $a2) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x4EF90DA297486471 0xD8ACDEA946EF1938))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=432 align=1 (local.get $p)))
    (local.set $a3 (i64x2.add (local.get $a3) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x3F349CE33F76FAA8 0x1D4F0BC7C7BBDCF9))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    ;; stripe 7: bytes 448..511, secret from byte 56
    (br_if $out (i32.le_u (local.get $count) (i32.const 7)))
    (local.set $d (v128.load offset=448 align=1 (local.get $p)))
    (local.set $a0 (i64x2.add (local.get $a0) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x4C263A81E69035E0 0xCB00C391BB52283C))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=464 align=1 (local.get $p)))
    (local.set $a1 (i64x2.add (local.get $a1) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xA32E531B8B65D088 0x4EF90DA297486471))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=480 align=1 (local.get $p)))
    (local.set $a2 (i64x2.add (local.get $a2) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xD8ACDEA946EF1938 0x3F349CE33F76FAA8))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=496 align=1 (local.get $p)))
    (local.set $a3 (i64x2.add (local.get $a3) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x1D4F0BC7C7BBDCF9 0x3159B4CD4BE0518A))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    ;; stripe 8: bytes 512..575, secret from byte 64
    (br_if $out (i32.le_u (local.get $count) (i32.const 8)))
    (local.set $d (v128.load offset=512 align=1 (local.get $p)))
    (local.set $a0 (i64x2.add (local.get $a0) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xCB00C391BB52283C 0xA32E531B8B65D088))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=528 align=1 (local.get $p)))
    (local.set $a1 (i64x2.add (local.get $a1) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x4EF90DA297486471 0xD8ACDEA946EF1938))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=544 align=1 (local.get $p)))
    (local.set $a2 (i64x2.add (local.get $a2) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x3F349CE33F76FAA8 0x1D4F0BC7C7BBDCF9))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=560 align=1 (local.get $p)))
    (local.set $a3 (i64x2.add (local.get $a3) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x3159B4CD4BE0518A 0x647378D9C97E9FC8))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    ;; stripe 9: bytes 576..639, secret from byte 72
    (br_if $out (i32.le_u (local.get $count) (i32.const 9)))
    (local.set $d (v128.load offset=576 align=1 (local.get $p)))
    (local.set $a0 (i64x2.add (local.get $a0) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xA32E531B8B65D088 0x4EF90DA297486471))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=592 align=1 (local.get $p)))
    (local.set $a1 (i64x2.add (local.get $a1) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xD8ACDEA946EF1938 0x3F349CE33F76FAA8))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=608 align=1 (local.get $p)))
    (local.set $a2 (i64x2.add (local.get $a2) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x1D4F0BC7C7BBDCF9 0x3159B4CD4BE0518A))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=624 align=1 (local.get $p)))
    (local.set $a3 (i64x2.add (local.get $a3) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x647378D9C97E9FC8 0xC3EBD33483ACC5EA))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    ;; stripe 10: bytes 640..703, secret from byte 80
    (br_if $out (i32.le_u (local.get $count) (i32.const 10)))
    (local.set $d (v128.load offset=640 align=1 (local.get $p)))
    (local.set $a0 (i64x2.add (local.get $a0) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x4EF90DA297486471 0xD8ACDEA946EF1938))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=656 align=1 (local.get $p)))
    (local.set $a1 (i64x2.add (local.get $a1) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x3F349CE33F76FAA8 0x1D4F0BC7C7BBDCF9))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=672 align=1 (local.get $p)))
    (local.set $a2 (i64x2.add (local.get $a2) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x3159B4CD4BE0518A 0x647378D9C97E9FC8))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=688 align=1 (local.get $p)))
    (local.set $a3 (i64x2.add (local.get $a3) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xC3EBD33483ACC5EA 0xEB6313FAFFA081C5))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    ;; stripe 11: bytes 704..767, secret from byte 88
    (br_if $out (i32.le_u (local.get $count) (i32.const 11)))
    (local.set $d (v128.load offset=704 align=1 (local.get $p)))
    (local.set $a0 (i64x2.add (local.get $a0) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xD8ACDEA946EF1938 0x3F349CE33F76FAA8))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=720 align=1 (local.get $p)))
    (local.set $a1 (i64x2.add (local.get $a1) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x1D4F0BC7C7BBDCF9 0x3159B4CD4BE0518A))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=736 align=1 (local.get $p)))
    (local.set $a2 (i64x2.add (local.get $a2) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x647378D9C97E9FC8 0xC3EBD33483ACC5EA))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=752 align=1 (local.get $p)))
    (local.set $a3 (i64x2.add (local.get $a3) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xEB6313FAFFA081C5 0x49DAF0B751DD0D17))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    ;; stripe 12: bytes 768..831, secret from byte 96
    (br_if $out (i32.le_u (local.get $count) (i32.const 12)))
    (local.set $d (v128.load offset=768 align=1 (local.get $p)))
    (local.set $a0 (i64x2.add (local.get $a0) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x3F349CE33F76FAA8 0x1D4F0BC7C7BBDCF9))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=784 align=1 (local.get $p)))
    (local.set $a1 (i64x2.add (local.get $a1) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x3159B4CD4BE0518A 0x647378D9C97E9FC8))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=800 align=1 (local.get $p)))
    (local.set $a2 (i64x2.add (local.get $a2) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xC3EBD33483ACC5EA 0xEB6313FAFFA081C5))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=816 align=1 (local.get $p)))
    (local.set $a3 (i64x2.add (local.get $a3) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x49DAF0B751DD0D17 0x9E68D429265516D3))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    ;; stripe 13: bytes 832..895, secret from byte 104
    (br_if $out (i32.le_u (local.get $count) (i32.const 13)))
    (local.set $d (v128.load offset=832 align=1 (local.get $p)))
    (local.set $a0 (i64x2.add (local.get $a0) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x1D4F0BC7C7BBDCF9 0x3159B4CD4BE0518A))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=848 align=1 (local.get $p)))
    (local.set $a1 (i64x2.add (local.get $a1) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x647378D9C97E9FC8 0xC3EBD33483ACC5EA))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=864 align=1 (local.get $p)))
    (local.set $a2 (i64x2.add (local.get $a2) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xEB6313FAFFA081C5 0x49DAF0B751DD0D17))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=880 align=1 (local.get $p)))
    (local.set $a3 (i64x2.add (local.get $a3) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x9E68D429265516D3 0xFCA1477D58BE162B))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    ;; stripe 14: bytes 896..959, secret from byte 112
    (br_if $out (i32.le_u (local.get $count) (i32.const 14)))
    (local.set $d (v128.load offset=896 align=1 (local.get $p)))
    (local.set $a0 (i64x2.add (local.get $a0) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x3159B4CD4BE0518A 0x647378D9C97E9FC8))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=912 align=1 (local.get $p)))
    (local.set $a1 (i64x2.add (local.get $a1) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xC3EBD33483ACC5EA 0xEB6313FAFFA081C5))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=928 align=1 (local.get $p)))
    (local.set $a2 (i64x2.add (local.get $a2) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x49DAF0B751DD0D17 0x9E68D429265516D3))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=944 align=1 (local.get $p)))
    (local.set $a3 (i64x2.add (local.get $a3) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xFCA1477D58BE162B 0xCE31D07AD1B8F88F))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    ;; stripe 15: bytes 960..1023, secret from byte 120
    (br_if $out (i32.le_u (local.get $count) (i32.const 15)))
    (local.set $d (v128.load offset=960 align=1 (local.get $p)))
    (local.set $a0 (i64x2.add (local.get $a0) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x647378D9C97E9FC8 0xC3EBD33483ACC5EA))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=976 align=1 (local.get $p)))
    (local.set $a1 (i64x2.add (local.get $a1) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xEB6313FAFFA081C5 0x49DAF0B751DD0D17))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=992 align=1 (local.get $p)))
    (local.set $a2 (i64x2.add (local.get $a2) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x9E68D429265516D3 0xFCA1477D58BE162B))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=1008 align=1 (local.get $p)))
    (local.set $a3 (i64x2.add (local.get $a3) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xCE31D07AD1B8F88F 0x280416958F3ACB45))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    )
    (global.set $acc0 (local.get $a0))
    (global.set $acc1 (local.get $a1))
    (global.set $acc2 (local.get $a2))
    (global.set $acc3 (local.get $a3))
  )

  ;; $blocks whole blocks of 1024 bytes at $p, each 16 stripes then a scramble:
  ;; acc ^= acc >> 47; acc ^= secret[128..191]; acc *= PRIME32_1.
  (func (export "blocks") (param $p i32) (param $blocks i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (block $done
      (loop $block
        (br_if $done (i32.eqz (local.get $blocks)))
        (call $accumulate (local.get $p) (i32.const 16))
        (local.set $a0 (global.get $acc0))
        (local.set $a1 (global.get $acc1))
        (local.set $a2 (global.get $acc2))
        (local.set $a3 (global.get $acc3))
        (local.set $a0 (i64x2.mul (v128.xor (v128.xor (local.get $a0) (i64x2.shr_u (local.get $a0) (i32.const 47))) (v128.const i64x2 0xC3EBD33483ACC5EA 0xEB6313FAFFA081C5)) (i64x2.splat (i64.const 0x9E3779B1))))
        (local.set $a1 (i64x2.mul (v128.xor (v128.xor (local.get $a1) (i64x2.shr_u (local.get $a1) (i32.const 47))) (v128.const i64x2 0x49DAF0B751DD0D17 0x9E68D429265516D3)) (i64x2.splat (i64.const 0x9E3779B1))))
        (local.set $a2 (i64x2.mul (v128.xor (v128.xor (local.get $a2) (i64x2.shr_u (local.get $a2) (i32.const 47))) (v128.const i64x2 0xFCA1477D58BE162B 0xCE31D07AD1B8F88F)) (i64x2.splat (i64.const 0x9E3779B1))))
        (local.set $a3 (i64x2.mul (v128.xor (v128.xor (local.get $a3) (i64x2.shr_u (local.get $a3) (i32.const 47))) (v128.const i64x2 0x280416958F3ACB45 0x7E404BBBCAFBD7AF)) (i64x2.splat (i64.const 0x9E3779B1))))
        (global.set $acc0 (local.get $a0))
        (global.set $acc1 (local.get $a1))
        (global.set $acc2 (local.get $a2))
        (global.set $acc3 (local.get $a3))
        (local.set $p (i32.add (local.get $p) (i32.const 1024)))
        (local.set $blocks (i32.sub (local.get $blocks) (i32.const 1)))
        (br $block))))

  ;; Ends the loop: $stripes stripes of the last, partial block at $p, then the input's last 64
  ;; bytes at $last with the secret from byte 121 (192 - 64 - 7), not scrambled.
  (func (export "finish") (param $p i32) (param $stripes i32) (param $last i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $d v128) (local $k v128)
    (call $accumulate (local.get $p) (local.get $stripes))
    (local.set $p (local.get $last))
    (local.set $a0 (global.get $acc0))
    (local.set $a1 (global.get $acc1))
    (local.set $a2 (global.get $acc2))
    (local.set $a3 (global.get $acc3))
    (local.set $d (v128.load offset=0 align=1 (local.get $p)))
    (local.set $a0 (i64x2.add (local.get $a0) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0xEA647378D9C97E9F 0xC5C3EBD33483ACC5))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=16 align=1 (local.get $p)))
    (local.set $a1 (i64x2.add (local.get $a1) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x17EB6313FAFFA081 0xD349DAF0B751DD0D))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=32 align=1 (local.get $p)))
    (local.set $a2 (i64x2.add (local.get $a2) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x2B9E68D429265516 0x8FFCA1477D58BE16))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (local.set $d (v128.load offset=48 align=1 (local.get $p)))
    (local.set $a3 (i64x2.add (local.get $a3) (i64x2.add (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)) (i64x2.extmul_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.tee $k (v128.xor (local.get $d) (v128.const i64x2 0x45CE31D07AD1B8F8 0xAF280416958F3ACB))) (local.get $k)) (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $k) (local.get $k))))))
    (global.set $acc0 (local.get $a0))
    (global.set $acc1 (local.get $a1))
    (global.set $acc2 (local.get $a2))
    (global.set $acc3 (local.get $a3))
  )

  ;; Accumulator $i (0..7), to merge in JavaScript.
  (func (export "acc") (param $i i32) (result i64)
    (local $v v128)
    (local.set $v (global.get $acc0))
    (if (i32.eq (i32.shr_u (local.get $i) (i32.const 1)) (i32.const 1)) (then (local.set $v (global.get $acc1))))
    (if (i32.eq (i32.shr_u (local.get $i) (i32.const 1)) (i32.const 2)) (then (local.set $v (global.get $acc2))))
    (if (i32.eq (i32.shr_u (local.get $i) (i32.const 1)) (i32.const 3)) (then (local.set $v (global.get $acc3))))
    (select (i64x2.extract_lane 1 (local.get $v)) (i64x2.extract_lane 0 (local.get $v)) (i32.and (local.get $i) (i32.const 1))))

  ;; 1 when the $n u32s at $p (4-byte aligned) never decrease, else 0. Each group of four is
  ;; compared with the same four shifted by one element, so every neighbouring pair once.
  (func (export "ascending") (param $p i32) (param $n i32) (result i32)
    (local $end i32) (local $end4 i32)
    (if (i32.lt_u (local.get $n) (i32.const 2)) (then (return (i32.const 1))))
    ;; Pairs start at elements 0 .. n-2.
    (local.set $end (i32.add (local.get $p) (i32.shl (i32.sub (local.get $n) (i32.const 1)) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $p) (i32.shl (i32.and (i32.sub (local.get $n) (i32.const 1)) (i32.const -4)) (i32.const 2))))
    (block $simd_done
      (loop $simd
        (br_if $simd_done (i32.ge_u (local.get $p) (local.get $end4)))
        (if (v128.any_true
              (i32x4.lt_u (v128.load offset=4 align=4 (local.get $p)) (v128.load align=4 (local.get $p))))
          (then (return (i32.const 0))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $simd)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $p) (local.get $end)))
        (if (i32.lt_u (i32.load offset=4 (local.get $p)) (i32.load (local.get $p)))
          (then (return (i32.const 0))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $tail)))
    (i32.const 1))
)
