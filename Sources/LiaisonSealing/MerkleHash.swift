internal import Crypto
internal import Foundation

/// An RFC 9162 audit path, leaf upwards: its 32-byte hashes stored end to
/// end in one buffer (envelopes carry two each; one allocation per path).
public struct AuditPath: Hashable, Sendable, ExpressibleByArrayLiteral {
    public let bytes: [UInt8]

    public init(_ hashes: [[UInt8]]) {
        var b: [UInt8] = []
        b.reserveCapacity(hashes.count * 32)
        for h in hashes {
            precondition(h.count == 32, "an audit path holds 32-byte hashes")
            b.append(contentsOf: h)
        }
        bytes = b
    }

    public init(arrayLiteral elements: [UInt8]...) { self.init(elements) }

    init(flat: [UInt8]) {
        precondition(flat.count % 32 == 0)
        bytes = flat
    }

    /// A path from its packed bytes (32 per hash), as stored.
    public init(packed: [UInt8]) throws(SealingError) {
        guard packed.count % 32 == 0, packed.count <= 64 * 32 else {
            throw SealingError(.malformed, "a packed audit path is a multiple of 32 bytes, at most 64 hashes")
        }
        bytes = packed
    }

    public var count: Int { bytes.count / 32 }
    public var hashes: [[UInt8]] { (0..<count).map { Array(bytes[($0 * 32)..<($0 * 32 + 32)]) } }
    public var isEmpty: Bool { bytes.isEmpty }

}

/// RFC 9162 §2.1 Merkle tree hashing over a list of leaves, used for batch
/// signatures (one signature over the root; each member keeps its audit
/// path) and by the ledger.
///
/// - leaf hash: SHA-256(0x00 ‖ leaf)
/// - interior hash: SHA-256(0x01 ‖ left ‖ right)
/// - the tree over n leaves splits at k, the largest power of two below n.
public enum MerkleHash {
    public typealias Hash = [UInt8]

    // Both hash their parts in place (no joined copy): a ledger append and
    // a seal check hash millions of these.
    static let leafPrefix: [UInt8] = [0x00]
    static let nodePrefix: [UInt8] = [0x01]

    public static func leaf(_ data: [UInt8]) -> Hash {
        var h = SHA256()
        leafPrefix.withUnsafeBytes { h.update(bufferPointer: $0) }
        data.withUnsafeBytes { h.update(bufferPointer: $0) }
        return h.finalize().bytes
    }

    public static func node(_ left: Hash, _ right: Hash) -> Hash {
        var h = SHA256()
        nodePrefix.withUnsafeBytes { h.update(bufferPointer: $0) }
        left.withUnsafeBytes { h.update(bufferPointer: $0) }
        right.withUnsafeBytes { h.update(bufferPointer: $0) }
        return h.finalize().bytes
    }

    /// The hash of the empty tree, SHA-256 of the empty string.
    public static let empty: Hash = SHA256.bytes([UInt8]())

    /// Largest power of two strictly less than `n` (n ≥ 2).
    static func split(_ n: Int) -> Int { largestPowerOfTwo(below: n) }

    /// Largest power of two strictly less than `n` (n ≥ 2): where RFC 9162
    /// splits a tree of `n` leaves.
    public static func largestPowerOfTwo(below n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// The root over leaf hashes `leaves` (any collection slice).
    public static func root(_ leaves: [Hash]) -> Hash { root(leaves[...]) }

    /// The root over leaf hashes `leaves`.
    public static func root(_ leaves: ArraySlice<Hash>) -> Hash {
        switch leaves.count {
        case 0: return empty
        case 1: return leaves.first!
        default:
            let k = split(leaves.count)
            let mid = leaves.startIndex + k
            return node(root(leaves[leaves.startIndex..<mid]), root(leaves[mid...]))
        }
    }

    /// All audit paths of a list, computed in one pass: O(n log n).
    public static func paths(_ leaves: [Hash]) -> [AuditPath] { pathsAndRoot(leaves).paths }

    /// The root and every audit path, hashing each interior node once
    /// (n − 1 hashes for n leaves).
    public static func pathsAndRoot(_ leaves: [Hash]) -> (paths: [AuditPath], root: Hash) {
        guard !leaves.isEmpty else { return ([], empty) }
        var depth = 0
        while 1 << depth < leaves.count { depth += 1 }
        var blank = [UInt8]()
        blank.reserveCapacity(depth * 32)
        var paths = Array(repeating: blank, count: leaves.count)
        let root = build(leaves[...], offset: 0, into: &paths)
        return (paths.map { AuditPath(flat: $0) }, root)
    }

    private static func build(_ leaves: ArraySlice<Hash>, offset: Int, into paths: inout [[UInt8]]) -> Hash {
        if leaves.count == 1 { return leaves.first! }
        let k = split(leaves.count)
        let mid = leaves.startIndex + k
        let left = build(leaves[leaves.startIndex..<mid], offset: offset, into: &paths)
        let right = build(leaves[mid...], offset: offset + k, into: &paths)
        for i in offset..<(offset + k) { paths[i].append(contentsOf: right) }
        for i in (offset + k)..<(offset + leaves.count) { paths[i].append(contentsOf: left) }
        return node(left, right)
    }

    /// The root implied by a leaf hash at `index` of a tree of `size` leaves
    /// and its audit path (RFC 9162 §2.1.3.2), or `nil` if the path does not
    /// fit the position.
    public static func root(fromLeaf leafHash: Hash, index: Int, size: Int, path: AuditPath) -> Hash? {
        guard index >= 0, index < size else { return nil }
        var fn = index, sn = size - 1
        var r = leafHash
        for i in 0..<path.count {
            guard let next = step(&fn, &sn, r, Array(path.bytes[(i * 32)..<(i * 32 + 32)])) else { return nil }
            r = next
        }
        return sn == 0 ? r : nil
    }

    /// One step of RFC 9162's inclusion check (§2.1.3.2): the running hash
    /// `r` of node `fn` in a tree whose last node at that level is `sn`,
    /// combined with the path's next hash `p`; `fn` and `sn` move up. `nil`
    /// when the path is longer than the tree allows.
    static func step(_ fn: inout Int, _ sn: inout Int, _ r: Hash, _ p: Hash) -> Hash? {
        guard sn != 0 else { return nil }
        let next: Hash
        if fn & 1 == 1 || fn == sn {
            next = node(p, r)
            if fn & 1 == 0 {
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            }
        } else {
            next = node(r, p)
        }
        fn >>= 1
        sn >>= 1
        return next
    }
}

/// Verifies many inclusion proofs under one tree head, as a sender checks
/// the receipts of a batch. The proofs of neighbouring leaves differ only
/// in their lowest steps: once a proof's running state (position and hash)
/// is the state the proof verified before it had at the same step, and the
/// rest of its path is the same, the rest of the computation is the same
/// and so is its result. Only the steps below that point are hashed: about
/// two per proof for consecutive leaves instead of one per level. Every
/// proof is still checked in full — its own leaf, its own path bytes — and
/// one that differs anywhere is computed on its own to the end.
public struct InclusionBatch: Sendable {
    public let size: Int
    public let root: MerkleHash.Hash
    /// The last proof that verified: its path and its state before each step.
    private var path: [UInt8] = []
    private var trail: [(fn: Int, sn: Int, r: MerkleHash.Hash)] = []

    public init(size: Int, root: MerkleHash.Hash) {
        (self.size, self.root) = (size, root)
    }

    /// Whether `path` proves `leafHash` at `index` under the head (what
    /// ``MerkleHash/root(fromLeaf:index:size:path:)`` computes, compared to the root).
    public mutating func verify(leafHash: MerkleHash.Hash, index: Int, path proof: AuditPath) -> Bool {
        guard index >= 0, index < size else { return false }
        let bytes = proof.bytes, steps = proof.count
        var fn = index, sn = size - 1
        var r = leafHash
        var states: [(fn: Int, sn: Int, r: MerkleHash.Hash)] = []
        states.reserveCapacity(steps)
        for i in 0..<steps {
            if i < trail.count, trail[i].fn == fn, trail[i].sn == sn, trail[i].r == r, path.count == bytes.count,
                path[(i * 32)...] == bytes[(i * 32)...]
            {
                // The rest is the last proof's computation, which reached the root.
                trail.replaceSubrange(0..<i, with: states)
                path = bytes
                return true
            }
            states.append((fn, sn, r))
            guard let next = MerkleHash.step(&fn, &sn, r, Array(bytes[(i * 32)..<(i * 32 + 32)])) else { return false }
            r = next
        }
        guard sn == 0, r == root else { return false }
        (trail, path) = (states, bytes)
        return true
    }
}

/// A 32-byte digest as a dictionary key: hashed as four words rather than
/// byte by byte as `[UInt8]` is.
struct DigestKey: Hashable, Sendable {
    let a: UInt64, b: UInt64, c: UInt64, d: UInt64

    init(_ bytes: [UInt8]) {
        precondition(bytes.count == 32)
        (a, b, c, d) = bytes.withUnsafeBytes {
            ($0.loadUnaligned(fromByteOffset: 0, as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
             $0.loadUnaligned(fromByteOffset: 16, as: UInt64.self), $0.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        }
    }
}

extension SHA256Digest {
    /// SHA-256 of `bytes` as an array.
    static func of(_ bytes: some DataProtocol) -> [UInt8] { SHA256.bytes(bytes) }

    /// The digest as an array, copied in one go (the generic `Array(_:)`
    /// walks the digest byte by byte).
    var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}

extension SHA256 {
    /// SHA-256 of `data` as an array.
    static func bytes(_ data: some DataProtocol) -> [UInt8] { hash(data: data).bytes }
}
