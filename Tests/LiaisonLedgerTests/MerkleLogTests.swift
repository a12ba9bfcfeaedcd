import LiaisonLedger
import LiaisonSealing
import PropertyBased
import Testing

/// Subtree hashes kept in a dictionary, filled only through
/// ``MerkleLog/hashesCreatedByAppending`` — the way a store fills its table.
struct TreeTable: SubtreeHashes {
    struct Missing: Error {}
    var nodes: [Int: [Int: [UInt8]]] = [:]
    var size = 0

    mutating func append(_ leaf: [UInt8]) {
        let created = MerkleLog.hashesCreatedByAppending(leafHash: MerkleHash.leaf(leaf), at: size) { level, index in
            nodes[level]![index]!
        }
        for c in created { nodes[c.level, default: [:]][c.index] = c.hash }
        size += 1
    }

    func hash(level: Int, index: Int) throws -> [UInt8] {
        guard let h = nodes[level]?[index] else { throw Missing() }
        return h
    }
}

func flip(_ h: [UInt8]) -> [UInt8] {
    var h = h
    h[0] ^= 1
    return h
}

/// RFC 9162 §2.1, as written.
enum Reference {
    static func split(_ n: Int) -> Int {
        var k = 1
        while k * 2 < n { k *= 2 }
        return k
    }
    static func mth(_ d: ArraySlice<[UInt8]>) -> [UInt8] {
        if d.isEmpty { return MerkleHash.empty }
        if d.count == 1 { return MerkleHash.leaf(d.first!) }
        let k = split(d.count)
        return MerkleHash.node(mth(d.prefix(k)), mth(d.dropFirst(k)))
    }
    static func path(_ m: Int, _ d: ArraySlice<[UInt8]>) -> [[UInt8]] {
        if d.count <= 1 { return [] }
        let k = split(d.count)
        return m < k ? path(m, d.prefix(k)) + [mth(d.dropFirst(k))] : path(m - k, d.dropFirst(k)) + [mth(d.prefix(k))]
    }
    static func subproof(_ m: Int, _ d: ArraySlice<[UInt8]>, _ b: Bool) -> [[UInt8]] {
        if m == d.count { return b ? [] : [mth(d)] }
        let k = split(d.count)
        return m <= k ? subproof(m, d.prefix(k), b) + [mth(d.dropFirst(k))] : subproof(m - k, d.dropFirst(k), false) + [mth(d.prefix(k))]
    }
}

/// The same definitions over index ranges of `leaves`, with MTH memoised,
/// so that every pair of sizes up to 1024 can be checked in seconds.
struct MemoReference {
    var memo: [Int: [UInt8]] = [:]

    mutating func mth(_ lo: Int, _ hi: Int) -> [UInt8] {
        if hi == lo { return MerkleHash.empty }
        if hi - lo == 1 { return MerkleHash.leaf(leaves[lo]) }
        if let h = memo[lo << 16 | hi] { return h }
        let k = Reference.split(hi - lo)
        let h = MerkleHash.node(mth(lo, lo + k), mth(lo + k, hi))
        memo[lo << 16 | hi] = h
        return h
    }

    mutating func path(_ m: Int, _ lo: Int, _ hi: Int) -> [[UInt8]] {
        if hi - lo <= 1 { return [] }
        let k = Reference.split(hi - lo)
        return m < k ? path(m, lo, lo + k) + [mth(lo + k, hi)] : path(m - k, lo + k, hi) + [mth(lo, lo + k)]
    }

    mutating func subproof(_ m: Int, _ lo: Int, _ hi: Int, _ b: Bool) -> [[UInt8]] {
        if m == hi - lo { return b ? [] : [mth(lo, hi)] }
        let k = Reference.split(hi - lo)
        return m <= k ? subproof(m, lo, lo + k, b) + [mth(lo + k, hi)] : subproof(m - k, lo + k, hi, false) + [mth(lo, lo + k)]
    }
}

let leaves: [[UInt8]] = (0..<1024).map { Array("entry \($0)".utf8) }
let table: TreeTable = {
    var t = TreeTable()
    for l in leaves { t.append(l) }
    return t
}()

/// A compact range rebuilt from a log's frontier appends as the log does:
/// the same completed subtrees, the same root, at every start size.
@Test func compactRangeFromTheFrontierAppendsAsTheLog() throws {
    var table = TreeTable()
    let leaves = (0..<300).map { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
    for start in 0..<leaves.count {
        var range = CompactRange(
            size: start, frontier: try CompactRange.frontier(size: start).map { try table.hash(level: $0.level, index: $0.index) })
        #expect(range.root == Reference.mth(leaves[..<start]))
        for offset in 0..<min(17, leaves.count - start) {
            let n = start + offset
            var completed: [(Int, Int, [UInt8])] = []
            range.append(MerkleHash.leaf(leaves[n])) { completed.append(($0, $1, $2)) }
            var copy = table
            while copy.size <= n { copy.append(leaves[copy.size]) }
            let created = MerkleLog.hashesCreatedByAppending(leafHash: MerkleHash.leaf(leaves[n]), at: n) { try! copy.hash(level: $0, index: $1) }
            #expect(completed.map { "\($0.0)/\($0.1)/\($0.2)" } == created.dropFirst().map { "\($0.level)/\($0.index)/\($0.hash)" })
            #expect(range.root == Reference.mth(leaves[...n]))
            #expect(range.size == n + 1)
        }
        table.append(leaves[start])
    }
}

@Suite("RFC 9162 log over stored subtree hashes")
struct MerkleLogTests {
    @Test func rootsAtEverySizeMatchTheReference() throws {
        #expect(try MerkleLog.root(table, size: 0) == MerkleHash.empty)
        for n in 1...1024 {
            #expect(try MerkleLog.root(table, size: n) == Reference.mth(leaves[..<n]), "size \(n)")
        }
    }

    @Test(arguments: [1, 2, 3, 5, 7, 8, 9, 31, 64, 100, 255, 256, 257, 1000, 1024])
    func inclusionProofsMatchTheReferenceAndVerify(size: Int) throws {
        let root = try MerkleLog.root(table, size: size)
        for m in 0..<size {
            let proof = try MerkleLog.inclusionProof(table, index: m, size: size)
            #expect(proof == Reference.path(m, leaves[..<size]))
            #expect(MerkleHash.root(fromLeaf: MerkleHash.leaf(leaves[m]), index: m, size: size, path: AuditPath(proof)) == root)
        }
    }

    @Test func consistencyProofsForEveryPairUpTo130() throws {
        for new in 1...130 {
            let newRoot = try MerkleLog.root(table, size: new)
            for old in 0...new {
                let proof = try MerkleLog.consistencyProof(table, old: old, new: new)
                let expected = old == 0 || old == new ? [] : Reference.subproof(old, leaves[..<new], true)
                #expect(proof == expected, "\(old) → \(new)")
                #expect(MerkleLog.verifyConsistency(old: old, new: new, oldRoot: try MerkleLog.root(table, size: old), newRoot: newRoot, proof: proof), "\(old) → \(new)")
            }
        }
    }

    /// Every pair of sizes 0 ≤ old ≤ new ≤ 1024, in 16 slices of `new`
    /// that run in parallel: the proof equals the reference's, and verifies.
    @Test(arguments: 0..<16)
    func consistencyProofsForEveryPairUpTo1024(slice: Int) throws {
        var reference = MemoReference()
        var wrong: [String] = []
        for new in stride(from: 1 + slice, through: 1024, by: 16) {
            let newRoot = reference.mth(0, new)
            for old in 0...new {
                let proof = try MerkleLog.consistencyProof(table, old: old, new: new)
                let expected = old == 0 || old == new ? [] : reference.subproof(old, 0, new, true)
                if proof != expected { wrong.append("\(old) → \(new): another proof than the reference") }
                if !MerkleLog.verifyConsistency(old: old, new: new, oldRoot: reference.mth(0, old), newRoot: newRoot, proof: proof) {
                    wrong.append("\(old) → \(new): does not verify")
                }
            }
        }
        #expect(wrong.isEmpty, "\(wrong.count) failures, first: \(wrong.prefix(3))")
    }

    /// Every leaf of every size 1…1024, in 16 slices of sizes.
    @Test(arguments: 0..<16)
    func inclusionProofsForEveryLeafOfEverySizeUpTo1024(slice: Int) throws {
        var reference = MemoReference()
        var wrong: [String] = []
        for size in stride(from: 1 + slice, through: 1024, by: 16) {
            let root = reference.mth(0, size)
            for m in 0..<size {
                let proof = try MerkleLog.inclusionProof(table, index: m, size: size)
                if proof != reference.path(m, 0, size) { wrong.append("\(m) in \(size): another path than the reference") }
                if MerkleHash.root(fromLeaf: MerkleHash.leaf(leaves[m]), index: m, size: size, path: AuditPath(proof)) != root {
                    wrong.append("\(m) in \(size): does not verify")
                }
            }
        }
        #expect(wrong.isEmpty, "\(wrong.count) failures, first: \(wrong.prefix(3))")
    }

    @Test func consistencyProofsForRandomPairsUpTo1024() async {
        await propertyCheck(count: 300, input: Gen.int(in: 1...1024), Gen.int(in: 0...1024)) { a, b in
            let new = max(a, b), old = min(a, b)
            let proof = try! MerkleLog.consistencyProof(table, old: old, new: new)
            #expect(MerkleLog.verifyConsistency(
                old: old, new: new, oldRoot: try! MerkleLog.root(table, size: old), newRoot: try! MerkleLog.root(table, size: new), proof: proof))
        }
    }

    /// Every corrupted consistency proof is refused: sizes ±1, doubled or
    /// halved, roots swapped, a bit flipped, a hash removed or inserted.
    @Test(arguments: [(3, 7), (4, 8), (5, 13), (8, 9), (31, 64), (100, 257), (255, 256), (513, 1024)])
    func corruptedConsistencyProofsAreRefused(old: Int, new: Int) throws {
        let proof = try MerkleLog.consistencyProof(table, old: old, new: new)
        let oldRoot = try MerkleLog.root(table, size: old), newRoot = try MerkleLog.root(table, size: new)
        #expect(MerkleLog.verifyConsistency(old: old, new: new, oldRoot: oldRoot, newRoot: newRoot, proof: proof))
        func rootAt(_ n: Int) -> [UInt8] { (try? MerkleLog.root(table, size: min(max(n, 0), 1024))) ?? MerkleHash.empty }
        var probes: [(Int, Int, [UInt8], [UInt8], [[UInt8]])] = [
            (old + 1, new, rootAt(old + 1), newRoot, proof), (old - 1, new, rootAt(old - 1), newRoot, proof),
            (old, new + 1, oldRoot, rootAt(new + 1), proof), (old, new - 1, oldRoot, rootAt(new - 1), proof),
            (old * 2, new, rootAt(old * 2), newRoot, proof), (old / 2, new, rootAt(old / 2), newRoot, proof),
            (old, new, newRoot, oldRoot, proof), (new, old, newRoot, oldRoot, proof),
            (old, new, oldRoot, newRoot, Array(proof.dropLast())), (old, new, oldRoot, newRoot, proof + [proof[0]]),
            (old, new, oldRoot, newRoot, [MerkleHash.empty] + proof),
            // The right sizes and proof, but another root on either side.
            (old, new, rootAt(old + 1), newRoot, proof), (old, new, oldRoot, rootAt(new - 1), proof),
            (old, new, flip(oldRoot), newRoot, proof), (old, new, oldRoot, flip(newRoot), proof),
        ]
        for i in proof.indices {
            var flipped = proof
            flipped[i][i % 32] ^= 1
            probes.append((old, new, oldRoot, newRoot, flipped))
        }
        for (o, n, or, nr, p) in probes where !(o == old && n == new && or == oldRoot && nr == newRoot && p == proof) {
            // A probe is only a forgery if it claims something untrue.
            let truthful = o >= 0 && o <= n && n <= 1024 && or == rootAt(o) && nr == rootAt(n) && p == ((try? MerkleLog.consistencyProof(table, old: o, new: n)) ?? [])
            if !truthful { #expect(!MerkleLog.verifyConsistency(old: o, new: n, oldRoot: or, newRoot: nr, proof: p), "probe \(o)→\(n) accepted") }
        }
    }

    @Test func appendingReadsOnlyLeftSiblings() {
        var t = TreeTable()
        for l in leaves.prefix(300) { t.append(l) }
        // A complete log of 256 leaves has 511 perfect subtrees: 2n − 1.
        var u = TreeTable()
        for l in leaves.prefix(256) { u.append(l) }
        #expect(u.nodes.values.map(\.count).reduce(0, +) == 511)
        #expect(t.size == 300)
    }
}

/// Receipts: the proofs of a batch of appended leaves computed from the
/// frontier before it and the batch's leaves alone equal the proofs from
/// the whole tree, for every split of every size up to 70.
@Test func appendedProofsEqualProofsFromTheWholeTree() throws {
    let leaves = (0..<70).map { [UInt8(truncatingIfNeeded: $0), 7] }
    var table = TreeTable()
    for l in leaves { table.append(l) }
    for size in 1...70 {
        for base in 0..<size {
            let frontier = try CompactRange.frontier(size: base).map { try table.hash(level: $0.level, index: $0.index) }
            let batch = try MerkleLog.inclusionProofs(base: base, frontier: frontier, leaves: leaves[base..<size].map(MerkleHash.leaf))
            #expect(batch.root == Reference.mth(leaves[0..<size]))
            for (i, path) in batch.paths.enumerated() {
                #expect(path == (try MerkleLog.inclusionProof(table, index: base + i, size: size)), "leaf \(base + i) of \(size)")
            }
        }
    }
    // A wrong frontier gives proofs that do not lead to the true root.
    let frontier = try CompactRange.frontier(size: 5).map { try table.hash(level: $0.level, index: $0.index) }
    let forged = try MerkleLog.inclusionProofs(base: 5, frontier: [flip(frontier[0]), frontier[1]], leaves: leaves[5..<9].map(MerkleHash.leaf))
    #expect(forged.root != Reference.mth(leaves[0..<9]))
}
