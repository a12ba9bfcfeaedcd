internal import Crypto
internal import Foundation

/// RFC 9162 §2.1 Merkle tree hashing over a list of leaves, used for batch
/// signatures (one signature over the root; each member keeps its audit
/// path) and by the ledger.
///
/// - leaf hash: SHA-256(0x00 ‖ leaf)
/// - interior hash: SHA-256(0x01 ‖ left ‖ right)
/// - the tree over n leaves splits at k, the largest power of two below n.
public enum MerkleHash {
    public typealias Hash = [UInt8]

    public static func leaf(_ data: some Sequence<UInt8>) -> Hash {
        var h = SHA256()
        h.update(data: [0x00])
        h.update(data: Array(data))
        return Array(h.finalize())
    }

    public static func node(_ left: Hash, _ right: Hash) -> Hash {
        var h = SHA256()
        h.update(data: [0x01])
        h.update(data: left)
        h.update(data: right)
        return Array(h.finalize())
    }

    /// The hash of the empty tree, SHA-256 of the empty string.
    public static let empty: Hash = Array(SHA256.hash(data: [UInt8]()))

    /// Largest power of two strictly less than `n` (n ≥ 2).
    static func split(_ n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

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
    public static func paths(_ leaves: [Hash]) -> [[Hash]] {
        var paths = Array(repeating: [Hash](), count: leaves.count)
        _ = build(leaves[...], offset: 0, into: &paths)
        return paths
    }

    private static func build(_ leaves: ArraySlice<Hash>, offset: Int, into paths: inout [[Hash]]) -> Hash {
        if leaves.count == 1 { return leaves.first! }
        let k = split(leaves.count)
        let mid = leaves.startIndex + k
        let left = build(leaves[leaves.startIndex..<mid], offset: offset, into: &paths)
        let right = build(leaves[mid...], offset: offset + k, into: &paths)
        for i in offset..<(offset + k) { paths[i].append(right) }
        for i in (offset + k)..<(offset + leaves.count) { paths[i].append(left) }
        return node(left, right)
    }

    /// The root implied by a leaf hash at `index` of a tree of `size` leaves
    /// and its audit path (RFC 9162 §2.1.3.2), or `nil` if the path does not
    /// fit the position.
    public static func root(fromLeaf leafHash: Hash, index: Int, size: Int, path: [Hash]) -> Hash? {
        guard index >= 0, index < size else { return nil }
        var fn = index, sn = size - 1
        var r = leafHash
        for p in path {
            guard sn != 0 else { return nil }
            if fn & 1 == 1 || fn == sn {
                r = node(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = node(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 ? r : nil
    }
}

extension SHA256Digest {
    /// SHA-256 of `bytes` as an array.
    static func of(_ bytes: some DataProtocol) -> [UInt8] { Array(SHA256.hash(data: bytes)) }
}
