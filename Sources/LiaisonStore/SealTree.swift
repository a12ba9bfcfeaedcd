public import LiaisonLedger
public import LiaisonSealing

/// The hashes of a whole origin-seal tree, kept once per origin root instead
/// of an audit path per item when a store holds every item the root was
/// signed over: the perfect subtrees level by level (n leaf hashes, then
/// ⌊n/2⌋, …, one), about 64 bytes per item where the paths take 32·⌈log₂ n⌉
/// (320 bytes each at 1000 items). An item's path is read back with the
/// RFC 9162 inclusion proof over these hashes, which is the seal's path.
public struct SealTree: SubtreeHashes, Sendable {
    public let bytes: [UInt8]
    public let count: Int

    /// The stored hashes of a tree of `count` leaves; refused (as corrupt)
    /// when their length does not fit.
    public init(bytes: [UInt8], count: Int) throws(StoreError) {
        guard count > 0, bytes.count == Self.hashCount(count) * 32 else {
            throw StoreError(.corrupt, "a stored seal tree of \(count) leaves holds \(bytes.count) bytes")
        }
        (self.bytes, self.count) = (bytes, count)
    }

    /// The tree over `itemDigests` in seal order (index 0 first).
    public init(itemDigests: [[UInt8]]) {
        precondition(!itemDigests.isEmpty, "a seal tree has at least one leaf")
        var out: [UInt8] = []
        out.reserveCapacity(Self.hashCount(itemDigests.count) * 32)
        var level = itemDigests.map { MerkleHash.leaf($0) }
        while !level.isEmpty {
            for h in level { out.append(contentsOf: h) }
            level = stride(from: 0, to: level.count - 1, by: 2).map { MerkleHash.node(level[$0], level[$0 + 1]) }
        }
        (bytes, count) = (out, itemDigests.count)
    }

    /// Hashes stored for `count` leaves: ⌊count / 2^level⌋ at every level.
    static func hashCount(_ count: Int) -> Int {
        var total = 0, n = count
        while n > 0 {
            total += n
            n >>= 1
        }
        return total
    }

    public func hash(level: Int, index: Int) throws -> MerkleHash.Hash {
        guard level >= 0, level < Int.bitWidth else { throw StoreError(.corrupt, "the seal tree has no level \(level)") }
        var offset = 0, n = count
        for _ in 0..<level {
            offset += n
            n >>= 1
        }
        guard index >= 0, index < n else { throw StoreError(.corrupt, "the seal tree has no subtree (\(level), \(index))") }
        let start = (offset + index) * 32
        return Array(bytes[start..<(start + 32)])
    }

    /// The audit path of leaf `index`, packed as the items table stores it.
    public func path(index: Int) throws(StoreError) -> [UInt8] {
        guard index >= 0, index < count else { throw StoreError(.corrupt, "seal index \(index) is outside a tree of \(count)") }
        do { return try MerkleLog.inclusionProof(self, index: index, size: count).flatMap { $0 } } catch let e as StoreError { throw e } catch {
            throw StoreError(.corrupt, "the seal tree: \(error)")
        }
    }
}
