public import LiaisonSealing

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
    func latestTreeHead() async throws(StoreError) -> SignedTreeHead?
    /// Re-derives the root from every stored entry (not from the stored
    /// subtree hashes) and compares it with the stored tree and the latest
    /// signed tree head — the ledger's fsck.
    func verify() async throws(StoreError) -> LedgerVerification
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

    public var isIntact: Bool { problems.isEmpty }
    public var description: String {
        isIntact
            ? "ledger intact: \(size) entries, root \(Hex.encode(root))\(treeHeadSize.map { ", latest signed tree head at \($0) matches" } ?? "")"
            : "ledger NOT intact: " + problems.joined(separator: "; ")
    }

    public init(size: Int, root: [UInt8], treeHeadSize: Int?, problems: [String]) {
        (self.size, self.root, self.treeHeadSize, self.problems) = (size, root, treeHeadSize, problems)
    }
}

/// Limits every back end enforces, so that bad input is refused the same way.
public enum StoreLimits {
    public static let maximumEntriesPerAppend = 100_000
    public static let maximumEntryBytes = 64 << 10
}
