;; The batch kernel of BatchIndex (batch.ts): multi-index hashing for many queries in one call, so
;; that a rescan crosses into WebAssembly once per table and batch of queries rather than once per
;; query, and no JavaScript object is made for a query that finds nothing (nearly all of them).
;;
;; One call probes ONE table for every query of the batch. Going table by table keeps one table's
;; bucket starts, ids and halves in cache while thousands of queries probe it, where going query by
;; query touched all the tables in turn and missed the cache at nearly every non-empty bucket.
;;
;; Memory, laid out by batch.ts: the entries' hashes (32 bytes each, contiguous); per table its
;; bucket starts, its ids, beside each id the half of that entry's hash that does not hold the
;; table's substring (16 bytes, in bucket order), and a bit per bucket set when it is not empty
;; (1/32 of the starts' size, so a probe of an empty bucket, most of them in a sparse table, reads
;; no start); then the queries, the flip masks, a work counter per query and the hits.
;; Keys are read as mih.ts's keyAt reads them: bit 0 is the top bit of byte 0, four bytes
;; big-endian from the substring's first byte (the queries region has 4 spare bytes at its end).
;;
;; Exactness: every entry in a probed bucket gets its distance on the stored half (a lower bound of
;; the full distance, so nothing within the threshold is dropped) and, when that is within the
;; threshold, on the whole hash. Hits are (query u32, entry u32, distance u32) triples; an entry
;; found through several tables is written once per table, and batch.ts keeps one.
;; Built into batch-wasm.ts by build-wasm.mjs.
(module
  ;; Shared: the search threads of a rescan search one index's tables (batch.ts, BatchIndex.share).
  (import "env" "memory" (memory 1 65536 shared))

  ;; Probes table ($width bits from bit $bit; $nprobe masks at $masks; bucket starts at $offsets,
  ;; ids at $ids, halves at $halves holding hash bytes $halfAt..$halfAt+15, occupancy bits at
  ;; $occupied) for $n of the queries at $queries (32 bytes each): those whose numbers the u32s at
  ;; $order list, in that order (batch.ts sorts them by key, so that the buckets they probe, and
  ;; the halves those hold, are read in nearly ascending order rather than at random).
  ;; Query q's work counter (u32 at $work + 4q) gains the size of every bucket it reads; a query
  ;; whose counter already exceeds $budget is skipped (the caller scans it). Stops before a query
  ;; when fewer than $reserve triples of room are left at $out (capacity $cap) and returns the
  ;; number of $order's queries done; the number of triples written is stored at address $count.
  (func (export "probe")
    (param $bit i32) (param $width i32) (param $nprobe i32) (param $masks i32) (param $offsets i32)
    (param $ids i32) (param $halves i32) (param $halfAt i32) (param $occupied i32) (param $near i32)
    (param $words i32) (param $queries i32) (param $order i32) (param $n i32) (param $threshold i32)
    (param $work i32) (param $budget i32) (param $out i32) (param $cap i32) (param $reserve i32) (param $count i32)
    (result i32)
    (local $i i32) (local $q i32) (local $qp i32) (local $t i64) (local $hits i32) (local $wp i32) (local $size i32)
    (local $h0 i64) (local $h1 i64) (local $b i32) (local $key i32) (local $keyMask i32) (local $shift i32)
    (local $p i32) (local $x i32) (local $bucket i32) (local $k i32) (local $to i32) (local $hp i32)
    (local $d i64) (local $e i32) (local $ep i32) (local $o i32) (local $bits i32) (local $low i32) (local $hit i32)
    (local.set $t (i64.extend_i32_u (local.get $threshold)))
    (local.set $low
      (select (i32.const -1) (i32.sub (i32.shl (i32.const 1) (local.get $nprobe)) (i32.const 1))
        (i32.ge_u (local.get $nprobe) (i32.const 32))))
    (local.set $keyMask (i32.sub (i32.shl (i32.const 1) (local.get $width)) (i32.const 1)))
    (local.set $shift (i32.sub (i32.sub (i32.const 32) (i32.and (local.get $bit) (i32.const 7))) (local.get $width)))
    (block $stop
      (loop $query
        (br_if $stop (i32.ge_u (local.get $i) (local.get $n)))
        (br_if $stop (i32.gt_u (i32.add (local.get $hits) (local.get $reserve)) (local.get $cap)))
        (local.set $q (i32.load (i32.add (local.get $order) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $wp (i32.add (local.get $work) (i32.shl (local.get $q) (i32.const 2))))
        (if (i32.le_u (i32.load (local.get $wp)) (local.get $budget))
          (then
            (local.set $qp (i32.add (local.get $queries) (i32.shl (local.get $q) (i32.const 5))))
            (local.set $b (i32.add (local.get $qp) (i32.shr_u (local.get $bit) (i32.const 3))))
            (local.set $key
              (i32.and
                (i32.shr_u
                  (i32.or
                    (i32.or
                      (i32.shl (i32.load8_u (local.get $b)) (i32.const 24))
                      (i32.shl (i32.load8_u offset=1 (local.get $b)) (i32.const 16)))
                    (i32.or
                      (i32.shl (i32.load8_u offset=2 (local.get $b)) (i32.const 8))
                      (i32.load8_u offset=3 (local.get $b))))
                  (local.get $shift))
                (local.get $keyMask)))
            (local.set $o (i32.add (local.get $qp) (local.get $halfAt)))
            (local.set $h0 (i64.load align=8 (local.get $o)))
            (local.set $h1 (i64.load offset=8 align=8 (local.get $o)))
            (local.set $size (i32.const 0))
            (local.set $p (i32.const 0))
            (if (local.get $near)
              (then
                (local.set $bits
                  (i32.and (i32.load (i32.add (local.get $near) (i32.shl (local.get $key) (i32.const 2)))) (local.get $low)))))
            (block $probed
            (loop $probe
              ;; The next mask to probe: with near words, the next occupied bucket's (its bit);
              ;; without, the next of the $nprobe, kept when the occupancy bit says its bucket is.
              (if (local.get $near)
                (then
                  (br_if $probed (i32.eqz (local.get $bits)))
                  (local.set $x
                    (i32.xor (local.get $key)
                      (i32.load (i32.add (local.get $masks) (i32.shl (i32.ctz (local.get $bits)) (i32.const 2))))))
                  (local.set $bits (i32.and (local.get $bits) (i32.sub (local.get $bits) (i32.const 1))))
                  (local.set $hit (i32.const 1)))
                (else
                  (br_if $probed (i32.ge_u (local.get $p) (local.get $nprobe)))
                  (local.set $x
                    (i32.xor (local.get $key) (i32.load (i32.add (local.get $masks) (i32.shl (local.get $p) (i32.const 2))))))
                  (local.set $p (i32.add (local.get $p) (i32.const 1)))
                  (local.set $hit
                    (i32.and
                      (i32.shr_u
                        (i32.load8_u (i32.add (local.get $occupied) (i32.shr_u (local.get $x) (i32.const 3))))
                        (i32.and (local.get $x) (i32.const 7)))
                      (i32.const 1)))))
              (if (local.get $hit)
                (then
                  (local.set $bucket (i32.add (local.get $offsets) (i32.shl (local.get $x) (i32.const 2))))
                  (local.set $k (i32.load (local.get $bucket)))
                  (local.set $to (i32.load offset=4 (local.get $bucket)))
                  (local.set $size (i32.add (local.get $size) (i32.sub (local.get $to) (local.get $k))))
                  (local.set $hp (i32.add (local.get $halves) (i32.shl (local.get $k) (i32.const 4))))
                  (loop $candidate
                    (if (i64.le_u
                          (i64.add
                            (i64.popcnt (i64.xor (i64.load align=8 (local.get $hp)) (local.get $h0)))
                            (i64.popcnt (i64.xor (i64.load offset=8 align=8 (local.get $hp)) (local.get $h1))))
                          (local.get $t))
                      (then
                        (local.set $e (i32.load (i32.add (local.get $ids) (i32.shl (local.get $k) (i32.const 2)))))
                        (local.set $ep (i32.add (local.get $words) (i32.shl (local.get $e) (i32.const 5))))
                        (local.set $d
                          (i64.add
                            (i64.add
                              (i64.popcnt (i64.xor (i64.load align=8 (local.get $ep)) (i64.load align=8 (local.get $qp))))
                              (i64.popcnt (i64.xor (i64.load offset=8 align=8 (local.get $ep)) (i64.load offset=8 align=8 (local.get $qp)))))
                            (i64.add
                              (i64.popcnt (i64.xor (i64.load offset=16 align=8 (local.get $ep)) (i64.load offset=16 align=8 (local.get $qp))))
                              (i64.popcnt (i64.xor (i64.load offset=24 align=8 (local.get $ep)) (i64.load offset=24 align=8 (local.get $qp)))))))
                        (if (i64.le_u (local.get $d) (local.get $t))
                          (then
                            (local.set $o (i32.add (local.get $out) (i32.mul (local.get $hits) (i32.const 12))))
                            (i32.store (local.get $o) (local.get $q))
                            (i32.store offset=4 (local.get $o) (local.get $e))
                            (i32.store offset=8 (local.get $o) (i32.wrap_i64 (local.get $d)))
                            (local.set $hits (i32.add (local.get $hits) (i32.const 1)))))))
                    (local.set $k (i32.add (local.get $k) (i32.const 1)))
                    (local.set $hp (i32.add (local.get $hp) (i32.const 16)))
                    (br_if $candidate (i32.lt_u (local.get $k) (local.get $to))))))
              (br $probe)))
            (i32.store (local.get $wp) (i32.add (i32.load (local.get $wp)) (local.get $size)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $query)))
    (i32.store (local.get $count) (local.get $hits))
    (local.get $i))
)
