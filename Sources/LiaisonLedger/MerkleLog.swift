public import LiaisonSealing

/// Where a log keeps the hashes of its perfect subtrees: the subtree at
/// `level` and `index` covers leaves `[index · 2^level, (index + 1) · 2^level)`.
/// Level 0 holds the leaf hashes. A store (SQLite, PostgreSQL) implements
/// this over its table; ``MerkleLog`` computes roots and proofs from it
/// without ever recomputing the tree.
public protocol SubtreeHashes {
    /// The hash of a perfect subtree that exists in the log.
    func hash(level: Int, index: Int) throws -> MerkleHash.Hash
}

/// The RFC 9162 §2.1 algorithms over stored subtree hashes: appending,
/// roots at any size, inclusion and consistency proofs, and their
/// verification. Reads are O(log n) per hash of a partial subtree, so a
/// proof costs O(log² n) reads at most; nothing walks the leaves.
public enum MerkleLog {
    public typealias Hash = MerkleHash.Hash

    /// The perfect subtree hashes created by appending leaf number `size`
    /// (zero-based) with hash `leafHash` to a log of `size` leaves: the
    /// leaf itself, then each completed parent. `sibling` reads the left
    /// siblings already stored.
    public static func hashesCreatedByAppending(
        leafHash: Hash, at size: Int, sibling: (_ level: Int, _ index: Int) throws -> Hash
    ) rethrows -> [(level: Int, index: Int, hash: Hash)] {
        var out = [(level: 0, index: size, hash: leafHash)]
        var level = 0, index = size, hash = leafHash
        while index & 1 == 1 {
            hash = MerkleHash.node(try sibling(level, index - 1), hash)
            level += 1
            index >>= 1
            out.append((level, index, hash))
        }
        return out
    }

    /// MTH(D[lo:hi]) for a range of the recursion of RFC 9162 (`lo` is a
    /// multiple of the largest power of two not above `hi - lo`).
    public static func subtreeHash(_ store: some SubtreeHashes, _ lo: Int, _ hi: Int) throws -> Hash {
        precondition(lo < hi)
        let n = hi - lo
        if n & (n - 1) == 0, lo % n == 0 {
            return try store.hash(level: n.trailingZeroBitCount, index: lo / n)
        }
        let k = MerkleHash.largestPowerOfTwo(below: n)
        return MerkleHash.node(try subtreeHash(store, lo, lo + k), try subtreeHash(store, lo + k, hi))
    }

    /// The root of the log at `size` leaves (SHA-256 of the empty string for 0).
    public static func root(_ store: some SubtreeHashes, size: Int) throws -> Hash {
        size == 0 ? MerkleHash.empty : try subtreeHash(store, 0, size)
    }

    /// PATH(m, D[0:n]): the inclusion proof of leaf `index` in the tree of `size` leaves.
    public static func inclusionProof(_ store: some SubtreeHashes, index: Int, size: Int) throws -> [Hash] {
        precondition(index >= 0 && index < size)
        var proof: [Hash] = []
        try path(store, index, 0, size, &proof)
        return proof
    }

    private static func path(_ store: some SubtreeHashes, _ m: Int, _ lo: Int, _ hi: Int, _ out: inout [Hash]) throws {
        guard hi - lo > 1 else { return }
        let k = MerkleHash.largestPowerOfTwo(below: hi - lo)
        if m < lo + k {
            try path(store, m, lo, lo + k, &out)
            out.append(try subtreeHash(store, lo + k, hi))
        } else {
            try path(store, m, lo + k, hi, &out)
            out.append(try subtreeHash(store, lo, lo + k))
        }
    }

    /// PROOF(m, D[0:n]): the consistency proof between sizes `old` and `new`
    /// (RFC 9162 §2.1.4); empty when `old` is 0 or equals `new`.
    public static func consistencyProof(_ store: some SubtreeHashes, old: Int, new: Int) throws -> [Hash] {
        precondition(old >= 0 && old <= new)
        guard old > 0, old < new else { return [] }
        var proof: [Hash] = []
        try subproof(store, old, 0, new, true, &proof)
        return proof
    }

    private static func subproof(_ store: some SubtreeHashes, _ m: Int, _ lo: Int, _ hi: Int, _ b: Bool, _ out: inout [Hash]) throws {
        let n = hi - lo
        if m == n {
            if !b { out.append(try subtreeHash(store, lo, hi)) }
            return
        }
        let k = MerkleHash.largestPowerOfTwo(below: n)
        if m <= k {
            try subproof(store, m, lo, lo + k, b, &out)
            out.append(try subtreeHash(store, lo + k, hi))
        } else {
            try subproof(store, m - k, lo + k, hi, false, &out)
            out.append(try subtreeHash(store, lo, lo + k))
        }
    }

    /// Verifies a consistency proof (RFC 9162 §2.1.4.2): the log of size
    /// `new` with root `newRoot` extends the log of size `old` with root
    /// `oldRoot`.
    public static func verifyConsistency(old: Int, new: Int, oldRoot: Hash, newRoot: Hash, proof: [Hash]) -> Bool {
        guard old >= 0, old <= new else { return false }
        if old == new { return proof.isEmpty && oldRoot == newRoot }
        if old == 0 { return proof.isEmpty }
        var path = proof
        if old & (old - 1) == 0 { path.insert(oldRoot, at: 0) }
        guard !path.isEmpty else { return false }
        var fn = old - 1, sn = new - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path[0], sr = path[0]
        for c in path.dropFirst() {
            guard sn != 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                fr = MerkleHash.node(c, fr)
                sr = MerkleHash.node(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                sr = MerkleHash.node(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && fr == oldRoot && sr == newRoot
    }
}

/// Subtree hashes held in memory: what a store fetched in one query.
public struct FetchedHashes: SubtreeHashes {
    public struct Missing: Error, CustomStringConvertible {
        public let level: Int, index: Int
        public var description: String { "the subtree hash (\(level), \(index)) was not fetched" }
    }
    public var hashes: [NodeKey: MerkleLog.Hash]
    public init(_ hashes: [NodeKey: MerkleLog.Hash]) { self.hashes = hashes }
    public func hash(level: Int, index: Int) throws -> MerkleLog.Hash {
        guard let h = hashes[NodeKey(level: level, index: index)] else { throw Missing(level: level, index: index) }
        return h
    }
}

/// The address of a perfect subtree.
public struct NodeKey: Hashable, Sendable {
    public let level: Int, index: Int
    public init(level: Int, index: Int) {
        self.level = level
        self.index = index
    }
}

extension MerkleLog {
    /// The perfect subtrees an algorithm reads. Which nodes a root or a
    /// proof needs depends only on the sizes and indices, never on hash
    /// values, so a remote store can fetch them all in one query, then run
    /// the algorithm over ``FetchedHashes``.
    public static func nodesRead(by algorithm: (any SubtreeHashes) throws -> Void) -> Set<NodeKey> {
        let recorder = Recorder()
        try? algorithm(recorder)
        return recorder.keys
    }

    final class Recorder: SubtreeHashes {
        var keys = Set<NodeKey>()
        func hash(level: Int, index: Int) throws -> Hash {
            keys.insert(NodeKey(level: level, index: index))
            return MerkleHash.empty
        }
    }
}

/// A streaming RFC 9162 root over leaves appended in order: the stack of
/// perfect subtrees of the binary decomposition of the count.
public struct CompactRange: Sendable {
    private var stack: [(level: Int, hash: [UInt8])] = []
    /// Leaves appended (counting those the frontier stands for).
    public private(set) var size = 0

    public init() {}

    /// The range of a log of `size` leaves, from the hashes of the perfect
    /// subtrees ``frontier(size:)`` names, in that order: appending then
    /// needs nothing else of the log.
    public init(size: Int, frontier hashes: [[UInt8]]) {
        let nodes = Self.frontier(size: size)
        precondition(nodes.count == hashes.count, "a log of \(size) leaves has \(nodes.count) frontier subtrees")
        stack = zip(nodes, hashes).map { ($0.level, $1) }
        self.size = size
    }

    /// The perfect subtrees covering a log of `size` leaves, left to right:
    /// one per bit set in `size`, largest first.
    public static func frontier(size: Int) -> [(level: Int, index: Int)] {
        var out: [(level: Int, index: Int)] = []
        var offset = 0
        for level in stride(from: Int.bitWidth - 2, through: 0, by: -1) where size >> level & 1 == 1 {
            out.append((level, offset >> level))
            offset += 1 << level
        }
        return out
    }

    /// Appends a leaf hash; `completed` is told of every interior subtree
    /// (level 1 and up) the leaf completes, lowest first.
    public mutating func append(_ leaf: [UInt8], completed: (_ level: Int, _ index: Int, _ hash: [UInt8]) -> Void = { _, _, _ in }) {
        var node = (level: 0, hash: leaf)
        while let last = stack.last, last.level == node.level {
            stack.removeLast()
            node = (node.level + 1, MerkleHash.node(last.hash, node.hash))
            completed(node.level, size >> node.level, node.hash)
        }
        stack.append(node)
        size += 1
    }

    public var root: [UInt8] {
        guard var r = stack.last?.hash else { return MerkleHash.empty }
        for s in stack.dropLast().reversed() { r = MerkleHash.node(s.hash, r) }
        return r
    }
}

/// A log known only by its frontier at `base` leaves and the leaf hashes
/// appended after it: enough for the root at every size up to the end, and
/// for the inclusion proof of every appended leaf, without the store. A
/// node answers a batch with the proofs of its new entries (receipts)
/// from this in one pass instead of one read per entry.
public final class AppendedHashes: SubtreeHashes {
    public let base: Int
    let frontier: [NodeKey: MerkleHash.Hash]
    let leaves: [MerkleHash.Hash]
    private var memo: [NodeKey: MerkleHash.Hash] = [:]

    /// `frontier`: the hashes of ``CompactRange/frontier(size:)`` at `base`, in that order.
    public init(base: Int, frontier: [MerkleHash.Hash], leaves: [MerkleHash.Hash]) {
        let nodes = CompactRange.frontier(size: base)
        precondition(nodes.count == frontier.count, "a log of \(base) leaves has \(nodes.count) frontier subtrees")
        self.base = base
        self.frontier = Dictionary(uniqueKeysWithValues: zip(nodes.map { NodeKey(level: $0.level, index: $0.index) }, frontier))
        self.leaves = leaves
    }

    public var size: Int { base + leaves.count }

    public func hash(level: Int, index: Int) throws -> MerkleHash.Hash {
        let key = NodeKey(level: level, index: index)
        if let h = frontier[key] ?? memo[key] { return h }
        let lo = index << level
        guard lo + (1 << level) <= size else { throw FetchedHashes.Missing(level: level, index: index) }
        let h: MerkleHash.Hash
        if level == 0 {
            guard lo >= base else { throw FetchedHashes.Missing(level: level, index: index) }
            h = leaves[lo - base]
        } else {
            // A subtree inside the frontier's part that is not one of its
            // nodes cannot be computed (and is never needed for a new leaf).
            guard lo + (1 << level) > base else { throw FetchedHashes.Missing(level: level, index: index) }
            h = MerkleHash.node(try hash(level: level - 1, index: 2 * index), try hash(level: level - 1, index: 2 * index + 1))
        }
        memo[key] = h
        return h
    }
}

extension MerkleLog {
    /// The inclusion proofs of the leaves appended after `base`, in the tree
    /// of `base + leaves.count` leaves, and that tree's root.
    public static func inclusionProofs(base: Int, frontier: [Hash], leaves: [Hash]) throws -> (root: Hash, paths: [[Hash]]) {
        let hashes = AppendedHashes(base: base, frontier: frontier, leaves: leaves)
        let size = hashes.size
        let paths = try leaves.indices.map { try inclusionProof(hashes, index: base + $0, size: size) }
        return (try root(hashes, size: size), paths)
    }
}
