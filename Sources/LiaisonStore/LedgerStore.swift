public import LiaisonSealing
internal import LiaisonLedger

/// A node's ledger (DESIGN §2, invariant 6): an append-only RFC 9162 log of
/// ``LedgerEntry`` leaves with its perfect-subtree hashes and signed tree
/// heads. Every back end passes the same conformance suite
/// (`LiaisonTesting.LedgerStoreConformance`).
public protocol LedgerStore: Sendable {
    /// Appends `entries` in one transaction with their subtree hashes and,
    /// when `sign` is given, the signed tree head of the new size; durable
    /// on disk when it returns. Returns the leaf indices of the entries.
    func append(_ entries: [LedgerEntry], sign: TreeHeadSigner?) async throws(StoreError) -> Range<Int>
    /// The number of entries.
    func size() async throws(StoreError) -> Int
    func entry(at index: Int) async throws(StoreError) -> LedgerEntry
    func root(size: Int) async throws(StoreError) -> [UInt8]
    func inclusionProof(index: Int, size: Int) async throws(StoreError) -> [[UInt8]]
    func consistencyProof(old: Int, new: Int) async throws(StoreError) -> [[UInt8]]
    /// The hashes of the perfect subtrees covering the first `size` entries
    /// (`CompactRange.frontier(size:)`): with the entries appended after
    /// them, they give the inclusion proofs of those entries in memory.
    func frontier(size: Int) async throws(StoreError) -> [[UInt8]]
    func latestTreeHead() async throws(StoreError) -> SignedTreeHead?
    /// The head signed at exactly `size`, or nil if none was signed at that size.
    func treeHead(size: Int) async throws(StoreError) -> SignedTreeHead?
    /// Signs the tree head of the ledger's current size if none is signed
    /// at that size yet (entries appended without a signature, such as
    /// releases, are then covered); returns the latest signed head.
    func signTreeHead(_ sign: @escaping TreeHeadSigner) async throws(StoreError) -> SignedTreeHead?
    /// Re-derives the root from every stored entry (not from the stored
    /// subtree hashes) and compares it with the stored tree and with every
    /// signed tree head, whose signatures are checked against `trust` when
    /// given — the ledger's fsck.
    func verify(trust: TrustStore?) async throws(StoreError) -> LedgerVerification
}

extension LedgerStore {
    /// ``verify(trust:)`` without checking tree-head signatures.
    public func verify() async throws(StoreError) -> LedgerVerification { try await verify(trust: nil) }
}

/// Signs the tree head of a new size and root, inside the append.
public typealias TreeHeadSigner = @Sendable (_ size: Int, _ root: [UInt8]) throws -> SignedTreeHead

/// The outcome of ``LedgerStore/verify()``.
public struct LedgerVerification: Hashable, Sendable, CustomStringConvertible {
    public var size: Int
    public var root: [UInt8]
    /// The size of the latest signed tree head, if any, and whether the
    /// re-derived root at that size equals its root.
    public var treeHeadSize: Int?
    public var problems: [String]

    /// How many signed tree heads were checked.
    public var treeHeads: Int

    public var isIntact: Bool { problems.isEmpty }
    public var description: String {
        guard let first = problems.first else {
            return "ledger intact: \(size) entries, root \(Hex.encode(root))"
                + (treeHeadSize.map { ", \(treeHeads) signed tree heads match (latest at \($0))" } ?? ", no signed tree head")
        }
        return "ledger NOT intact: first inconsistency: \(first)" + (problems.count > 1 ? " (\(problems.count - 1) more: \(problems.dropFirst().prefix(5).joined(separator: "; ")))" : "")
    }

    public init(size: Int, root: [UInt8], treeHeadSize: Int?, treeHeads: Int = 0, problems: [String]) {
        (self.size, self.root, self.treeHeadSize, self.treeHeads, self.problems) = (size, root, treeHeadSize, treeHeads, problems)
    }
}

/// Limits every back end enforces, so that bad input is refused the same way.
public enum StoreLimits {
    public static let maximumEntriesPerAppend = 100_000
    public static let maximumEntryBytes = 64 << 10
}

extension StoreLimits {
    /// The entries' encodings, or the refusal every back end gives.
    public static func encode(_ entries: [LedgerEntry]) throws(StoreError) -> [[UInt8]] {
        try check(entries)
        let encoded = entries.map(\.derBytes)
        try check(encoded: encoded)
        return encoded
    }

    /// The refusals that depend on the number of entries.
    public static func check(_ entries: [LedgerEntry]) throws(StoreError) {
        guard !entries.isEmpty else { throw StoreError(.invalidInput, "an append carries at least one entry") }
        guard entries.count <= maximumEntriesPerAppend else {
            throw StoreError(.oversized, "\(entries.count) entries in one append; the limit is \(maximumEntriesPerAppend)")
        }
    }

    /// The refusals that depend on the entries' encodings.
    public static func check(encoded: [[UInt8]]) throws(StoreError) {
        if let big = encoded.firstIndex(where: { $0.count > maximumEntryBytes }) {
            throw StoreError(.oversized, "entry \(big) is \(encoded[big].count) bytes; the limit is \(maximumEntryBytes)")
        }
    }
}

/// The ledger fsck shared by every back end: feed it the stored entries in
/// order, then the root the stored subtree hashes give; it re-derives the
/// tree from the entries alone and checks every signed tree head against it.
public struct LedgerAudit {
    var heads: [(size: Int, head: SignedTreeHead)] = []
    var nextHead = 0
    var range = CompactRange()
    var expected = 0
    var problems: [String] = []
    /// The interior subtree hashes (level 1 and up) that the last entry
    /// added completed, for a store that keeps them to compare with its own.
    public private(set) var completed: [(level: Int, index: Int, hash: MerkleHash.Hash)] = []
    var storedHashProblems = 0

    /// `treeHeads`: every stored tree head, as (size, signed bytes).
    public init(treeHeads: [(size: Int, signed: [UInt8])], trust: TrustStore?, integrityProblems: [String] = []) {
        problems = integrityProblems
        for (size, bytes) in treeHeads.sorted(by: { $0.size < $1.size }) {
            guard let head = try? SignedTreeHead(canonical: bytes) else {
                problems.append("the signed tree head stored at size \(size) does not decode")
                continue
            }
            guard head.body.size == size else {
                problems.append("the signed tree head stored at size \(size) names size \(head.body.size)")
                continue
            }
            if let trust {
                do { _ = try head.verified(by: trust) } catch {
                    problems.append("the signature of the tree head at size \(size) does not verify: \(error.reason)")
                }
            }
            heads.append((size, head))
        }
        checkHeads()
    }

    /// Heads at the current size must carry the root of the entries so far.
    mutating func checkHeads() {
        while nextHead < heads.count, heads[nextHead].size == expected {
            let root = expected == 0 ? MerkleHash.empty : range.root
            if heads[nextHead].head.body.root != root {
                problems.append("the signed tree head at size \(expected) does not match the entries")
            }
            nextHead += 1
        }
    }

    /// The next stored entry, and its leaf hash if the store keeps one.
    public mutating func add(index: Int, entry: [UInt8], storedLeaf: [UInt8]?) {
        if index != expected { problems.append("entries jump from \(expected) to \(index)") }
        let leaf = MerkleHash.leaf(entry)
        if let storedLeaf, storedLeaf != leaf { problems.append("entry \(index): stored leaf hash differs from the entry's") }
        var created: [(level: Int, index: Int, hash: MerkleHash.Hash)] = []
        range.append(leaf) { level, index, hash in created.append((level, index, hash)) }
        completed = created
        expected = index + 1
        checkHeads()
    }

    /// A stored interior subtree hash that is not the one its entries give
    /// (the first hundred are listed).
    public mutating func storedHashDiffers(level: Int, index: Int) {
        storedHashProblems += 1
        if storedHashProblems <= 100 {
            problems.append("entries \(index << level)–\(((index + 1) << level) - 1): the stored subtree hash differs from the entries'")
        } else if storedHashProblems == 101 {
            problems.append("more stored subtree hashes differ from the entries (only the first 100 are listed)")
        }
    }

    /// Entries read so far: the size the stored tree must be asked about.
    public var size: Int { expected }

    public func finish(storedRoot: [UInt8]) -> LedgerVerification {
        var problems = self.problems
        let derived = range.root
        if storedRoot != derived { problems.append("the stored subtree hashes give another root than the entries") }
        for h in heads[nextHead...] {
            problems.append("a signed tree head covers \(h.size) entries; only \(expected) are stored")
        }
        return LedgerVerification(size: expected, root: derived, treeHeadSize: heads.last?.size, treeHeads: heads.count, problems: problems)
    }
}
