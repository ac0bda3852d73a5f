;; The linear scan kernel of LinearIndex (linear.ts): Hamming distance by i64.popcnt over 256-bit
;; hashes stored as two planes, bytes 0..15 of every hash in plane A and bytes 16..31 in plane B.
;; Nearly every stored hash is far from the query, and its first 128 bits already say so: plane B
;; is read only for hashes whose plane-A distance is within the threshold, which halves the memory
;; the scan streams through and stays exact (a partial distance never exceeds the full one).
;;
;; Bytes are compared as they are stored: popcount(xor) does not depend on byte order, so there is
;; no endianness to handle. The memory is imported so JavaScript sizes it, and can later read a
;; snapshot's planes straight into it. Built into popcount-wasm.ts by build-wasm.mjs.
;;
;; Results are (index u32, distance u32) pairs, index first (little-endian: low word first).
;;
;; Cost on Node 20 (V8 11.3, TurboFan), measured with a throwaway harness over 1M random hashes:
;; V8 puts an interrupt check in every loop iteration and does not inline calls, so the fast loop
;; is unrolled by four with no call in it (one check and one branch per four hashes); this was
;; 10-20% faster than one hash per iteration, eight was no faster than four, and a helper call in
;; the loop made it twice as slow. The loop is then close to popcnt throughput (one per cycle)
;; and to memory bandwidth (a plain read of plane A takes ~70% of the scan's time).
(module
  (import "env" "memory" (memory 1))

  ;; Every stored hash within $threshold of the 32-byte query at $query, in index order. Writes at
  ;; most $maxOut pairs at $out but returns the total number of hits, so the caller can tell that
  ;; its buffer was too small, grow it and scan again.
  (func (export "scan")
    (param $planeA i32) (param $planeB i32) (param $count i32) (param $query i32) (param $threshold i32)
    (param $out i32) (param $maxOut i32)
    (result i32)
    (local $q0 i64) (local $q1 i64) (local $q2 i64) (local $q3 i64) (local $t i64)
    (local $pa i32) (local $end i32) (local $end4 i32) (local $stop i32) (local $pb i32) (local $hits i32)
    (local $d i64) (local $d0 i64) (local $d1 i64) (local $d2 i64) (local $d3 i64)
    (local.set $q0 (i64.load align=8 (local.get $query)))
    (local.set $q1 (i64.load offset=8 align=8 (local.get $query)))
    (local.set $q2 (i64.load offset=16 align=8 (local.get $query)))
    (local.set $q3 (i64.load offset=24 align=8 (local.get $query)))
    (local.set $t (i64.extend_i32_u (local.get $threshold)))
    (local.set $pa (local.get $planeA))
    (local.set $end (i32.add (local.get $planeA) (i32.shl (local.get $count) (i32.const 4))))
    (local.set $end4 (i32.add (local.get $planeA) (i32.shl (i32.and (local.get $count) (i32.const -4)) (i32.const 4))))
    (block $done
      (loop $outer
        ;; Fast path: plane A only, four hashes a step, until a group has a hash within the
        ;; threshold on plane A or too few hashes are left for a group.
        (block $found
          (loop $fast
            (br_if $found (i32.ge_u (local.get $pa) (local.get $end4)))
            (local.set $d0 (i64.add
                (i64.popcnt (i64.xor (i64.load offset=0 align=8 (local.get $pa)) (local.get $q0)))
                (i64.popcnt (i64.xor (i64.load offset=8 align=8 (local.get $pa)) (local.get $q1)))))
            (local.set $d1 (i64.add
                (i64.popcnt (i64.xor (i64.load offset=16 align=8 (local.get $pa)) (local.get $q0)))
                (i64.popcnt (i64.xor (i64.load offset=24 align=8 (local.get $pa)) (local.get $q1)))))
            (local.set $d2 (i64.add
                (i64.popcnt (i64.xor (i64.load offset=32 align=8 (local.get $pa)) (local.get $q0)))
                (i64.popcnt (i64.xor (i64.load offset=40 align=8 (local.get $pa)) (local.get $q1)))))
            (local.set $d3 (i64.add
                (i64.popcnt (i64.xor (i64.load offset=48 align=8 (local.get $pa)) (local.get $q0)))
                (i64.popcnt (i64.xor (i64.load offset=56 align=8 (local.get $pa)) (local.get $q1)))))
            ;; The group's least distance, branch-free, then one branch for the four.
            (local.set $d0 (select (local.get $d1) (local.get $d0) (i64.lt_u (local.get $d1) (local.get $d0))))
            (local.set $d2 (select (local.get $d3) (local.get $d2) (i64.lt_u (local.get $d3) (local.get $d2))))
            (br_if $found
              (i64.le_u
                (select (local.get $d2) (local.get $d0) (i64.lt_u (local.get $d2) (local.get $d0)))
                (local.get $t)))
            (local.set $pa (i32.add (local.get $pa) (i32.const 64)))
            (br $fast)))
        ;; The fast loop also leaves at the end when the count is a multiple of four.
        (br_if $done (i32.ge_u (local.get $pa) (local.get $end)))
        ;; Slow path: that group (or the last 1-3 hashes) one at a time, with plane B for those
        ;; within the threshold on plane A. The fast loop starts again after it.
        (local.set $stop (i32.add (local.get $pa) (i32.const 64)))
        (if (i32.gt_u (local.get $stop) (local.get $end)) (then (local.set $stop (local.get $end))))
        (loop $slow
          (local.set $d (i64.add
              (i64.popcnt (i64.xor (i64.load offset=0 align=8 (local.get $pa)) (local.get $q0)))
              (i64.popcnt (i64.xor (i64.load offset=8 align=8 (local.get $pa)) (local.get $q1)))))
          (if (i64.le_u (local.get $d) (local.get $t))
            (then
              ;; Plane B sits at the same offset from its base as plane A from its own.
              (local.set $pb (i32.add (local.get $planeB) (i32.sub (local.get $pa) (local.get $planeA))))
              (local.set $d
                (i64.add (local.get $d)
                  (i64.add
                    (i64.popcnt (i64.xor (i64.load align=8 (local.get $pb)) (local.get $q2)))
                    (i64.popcnt (i64.xor (i64.load offset=8 align=8 (local.get $pb)) (local.get $q3))))))
              (if (i64.le_u (local.get $d) (local.get $t))
                (then
                  (if (i32.lt_u (local.get $hits) (local.get $maxOut))
                    (then
                      (i64.store align=8
                        (i32.add (local.get $out) (i32.shl (local.get $hits) (i32.const 3)))
                        (i64.or
                          (i64.extend_i32_u (i32.shr_u (i32.sub (local.get $pa) (local.get $planeA)) (i32.const 4)))
                          (i64.shl (local.get $d) (i64.const 32))))))
                  (local.set $hits (i32.add (local.get $hits) (i32.const 1)))))))
          (local.set $pa (i32.add (local.get $pa) (i32.const 16)))
          (br_if $slow (i32.lt_u (local.get $pa) (local.get $stop))))
        (br $outer)))
    (local.get $hits))

  ;; Exact distances for the $n u32 positions at $candidates (each below the planes' count; the
  ;; caller checks): writes a pair at $out for each within $threshold, in the order given, and
  ;; returns how many. $out must have room for $n pairs. Candidates are scattered, so each costs
  ;; a cache miss or two whatever the arithmetic; no unrolling.
  (func (export "verify")
    (param $planeA i32) (param $planeB i32) (param $candidates i32) (param $n i32) (param $query i32) (param $threshold i32)
    (param $out i32)
    (result i32)
    (local $q0 i64) (local $q1 i64) (local $q2 i64) (local $q3 i64) (local $t i64)
    (local $end i32) (local $c i32) (local $pa i32) (local $pb i32) (local $d i64) (local $hits i32)
    (local.set $q0 (i64.load align=8 (local.get $query)))
    (local.set $q1 (i64.load offset=8 align=8 (local.get $query)))
    (local.set $q2 (i64.load offset=16 align=8 (local.get $query)))
    (local.set $q3 (i64.load offset=24 align=8 (local.get $query)))
    (local.set $t (i64.extend_i32_u (local.get $threshold)))
    (local.set $end (i32.add (local.get $candidates) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $candidates) (local.get $end)))
        (local.set $c (i32.load align=4 (local.get $candidates)))
        (local.set $pa (i32.add (local.get $planeA) (i32.shl (local.get $c) (i32.const 4))))
        (local.set $d (i64.add
            (i64.popcnt (i64.xor (i64.load offset=0 align=8 (local.get $pa)) (local.get $q0)))
            (i64.popcnt (i64.xor (i64.load offset=8 align=8 (local.get $pa)) (local.get $q1)))))
        (if (i64.le_u (local.get $d) (local.get $t))
          (then
            (local.set $pb (i32.add (local.get $planeB) (i32.shl (local.get $c) (i32.const 4))))
            (local.set $d
              (i64.add (local.get $d)
                (i64.add
                  (i64.popcnt (i64.xor (i64.load align=8 (local.get $pb)) (local.get $q2)))
                  (i64.popcnt (i64.xor (i64.load offset=8 align=8 (local.get $pb)) (local.get $q3))))))
            (if (i64.le_u (local.get $d) (local.get $t))
              (then
                (i64.store align=8
                  (i32.add (local.get $out) (i32.shl (local.get $hits) (i32.const 3)))
                  (i64.or (i64.extend_i32_u (local.get $c)) (i64.shl (local.get $d) (i64.const 32))))
                (local.set $hits (i32.add (local.get $hits) (i32.const 1)))))))
        (local.set $candidates (i32.add (local.get $candidates) (i32.const 4)))
        (br $next)))
    (local.get $hits))
)
