internal import Crypto
public import Foundation
public import LiaisonModel
public import SwiftASN1

/// What the originator's seal binds (the STANAG 4778 idea): the item's id,
/// its label, and the digest, size and media type of its payload. Its
/// SHA-256 is the *item digest* that consents, notices and ledger entries
/// name.
public struct ItemManifest: Hashable, Sendable, CanonicalValue {
    public static let structureName = "ItemManifest"
    /// 16 random bytes.
    public var itemID: [UInt8]
    public var label: SecurityLabel
    public var mediaType: String
    public var payloadSize: Int
    /// SHA-256 of the plaintext payload.
    public var payloadDigest: [UInt8]

    public init(itemID: [UInt8], label: SecurityLabel, mediaType: String, payload: some DataProtocol) {
        self.itemID = itemID
        self.label = label
        self.mediaType = mediaType
        self.payloadSize = payload.count
        self.payloadDigest = Array(SHA256.hash(data: payload))
    }

    init(itemID: [UInt8], label: SecurityLabel, mediaType: String, payloadSize: Int, payloadDigest: [UInt8]) {
        self.itemID = itemID
        self.label = label
        self.mediaType = mediaType
        self.payloadSize = payloadSize
        self.payloadDigest = payloadDigest
    }

    public func encode(into c: inout DER.Serializer) throws {
        try c.sequence { s in
            try s.integer(protocolVersion)
            try s.octets(itemID)
            try LabelDocument(label).encode(into: &s)
            try s.utf8(mediaType)
            try s.integer(payloadSize)
            try s.octets(payloadDigest)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            let id = try r.octets(count: 16)
            let label = try LabelDocument(decoding: try r.node()).label
            let media = try r.utf8()
            let size = try r.integer()
            let digest = try r.octets(count: 32)
            return ItemManifest(itemID: id, label: label, mediaType: media, payloadSize: size, payloadDigest: digest)
        }
    }

    /// The item digest: SHA-256 of the canonical encoding.
    public var digest: [UInt8] { Array(SHA256.hash(data: derBytes)) }
    public var digestHex: String { Hex.encode(digest) }
    /// The item as policies see it.
    public var facts: ItemFacts { ItemFacts(digest: digestHex, label: label) }
}

/// The originator's signature over the Merkle root of a batch of item
/// digests (one signature for an originator's bulk release or sensor feed).
public struct OriginRoot: Hashable, Sendable, CanonicalValue {
    public static let structureName = "OriginRoot"
    public var originator: Party
    public var sealedAt: Date
    public var count: Int
    public var root: [UInt8]
    public var signature: Signature

    static let bodyName = "OriginRootBody"

    func bodyBytes() throws -> [UInt8] {
        var s = DER.Serializer()
        try s.sequence { b in
            try b.integer(protocolVersion)
            try b.party(originator)
            try b.instant(sealedAt)
            try b.integer(count)
            try b.octets(root)
        }
        return s.serializedBytes
    }

    public func encode(into c: inout DER.Serializer) throws {
        try c.sequence { s in
            s.serializeRawBytes(try bodyBytes())
            try signature.encode(into: &s)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            let (originator, sealedAt, count, root) = try r.sequence { b in
                try b.version()
                return (try b.party(), try b.instant(), try b.integer(in: 1...Int(Int32.max)), try b.octets(count: 32))
            }
            let signature = try Signature(decoding: try r.node())
            return OriginRoot(originator: originator, sealedAt: sealedAt, count: count, root: root, signature: signature)
        }
    }

    init(originator: Party, sealedAt: Date, count: Int, root: [UInt8], signature: Signature) {
        self.originator = originator
        self.sealedAt = sealedAt
        self.count = count
        self.root = root
        self.signature = signature
    }
}

/// An item's origin seal: the signed root and the item's audit path to it.
public struct OriginSeal: Hashable, Sendable, CanonicalValue {
    public static let structureName = "OriginSeal"
    public var root: OriginRoot
    public var index: Int
    public var path: [[UInt8]]

    public func encode(into c: inout DER.Serializer) throws {
        try c.sequence { s in
            try root.encode(into: &s)
            try s.integer(index)
            try s.sequence { p in for h in path { try p.octets(h) } }
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            let root = try OriginRoot(decoding: try r.node())
            let index = try r.integer(in: 0...Int(Int32.max))
            let path: [[UInt8]] = try r.sequence { p in
                var out: [[UInt8]] = []
                while p.hasMore {
                    guard out.count < 64 else { throw p.fail("an audit path has at most 64 hashes") }
                    out.append(try p.octets(count: 32))
                }
                return out
            }
            return OriginSeal(root: root, index: index, path: path)
        }
    }

    init(root: OriginRoot, index: Int, path: [[UInt8]]) {
        self.root = root
        self.index = index
        self.path = path
    }

    /// Whether this seal binds `manifest` under its root; does not check the
    /// root's signature (see ``SealVerifier``).
    public func binds(_ manifest: ItemManifest) -> Bool {
        guard root.originator == manifest.label.originator else { return false }
        return MerkleHash.root(fromLeaf: MerkleHash.leaf(manifest.digest), index: index, size: root.count, path: path) == root.root
    }
}

/// An item as its originator seals it: manifest, seal and payload.
public struct SealedItem: Hashable, Sendable {
    public var manifest: ItemManifest
    public var seal: OriginSeal
    public var payload: [UInt8]
}

extension SigningKey {
    /// Seals `items` as their originator: one signature over the Merkle root
    /// of their digests, each item keeping its path.
    public func sealOrigin(
        _ items: [(label: SecurityLabel, mediaType: String, payload: [UInt8])], originator: Party, at instant: Date
    ) throws -> [SealedItem] {
        precondition(!items.isEmpty, "seal at least one item")
        var rng = SystemRandomNumberGenerator()
        let manifests = items.map { item in
            var label = item.label
            label.created = Instant.normalized(label.created)
            label.review = label.review.map(Instant.normalized)
            let id = (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }
            return ItemManifest(itemID: id, label: label, mediaType: item.mediaType, payload: item.payload)
        }
        for m in manifests where m.label.originator != originator {
            throw SealingError(.wrongSigner, "\(originator) can only seal its own items, not one from \(m.label.originator)")
        }
        let leaves = manifests.map { MerkleHash.leaf($0.digest) }
        let root = MerkleHash.root(leaves[...])
        var unsigned = OriginRoot(
            originator: originator, sealedAt: Instant.normalized(instant), count: manifests.count, root: root,
            signature: Signature(keyID: [], suite: suite, parts: []))
        unsigned.signature = try sign(try unsigned.bodyBytes(), structure: OriginRoot.bodyName)
        let paths = MerkleHash.paths(leaves)
        return manifests.indices.map {
            SealedItem(manifest: manifests[$0], seal: OriginSeal(root: unsigned, index: $0, path: paths[$0]), payload: items[$0].payload)
        }
    }
}
