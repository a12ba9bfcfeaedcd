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
    public let itemID: [UInt8]
    public let label: SecurityLabel
    public let mediaType: String
    public let payloadSize: Int
    /// SHA-256 of the plaintext payload.
    public let payloadDigest: [UInt8]
    /// The item digest: SHA-256 of the canonical encoding, computed once.
    public let digest: [UInt8]
    /// The canonical encoding, kept when built or decoded (decoding accepts
    /// only the canonical one), so that a sender puts it in an envelope as
    /// it is instead of encoding it again.
    let encoding: [UInt8]?

    public static func == (a: ItemManifest, b: ItemManifest) -> Bool {
        a.itemID == b.itemID && a.label == b.label && a.mediaType == b.mediaType && a.payloadSize == b.payloadSize
            && a.payloadDigest == b.payloadDigest
    }
    public func hash(into h: inout Hasher) { h.combine(digest) }

    public init(itemID: [UInt8], label: SecurityLabel, mediaType: String, payload: some DataProtocol) {
        self.init(
            itemID: itemID, label: label, mediaType: mediaType, payloadSize: payload.count,
            payloadDigest: SHA256.bytes(payload))
    }

    init(itemID: [UInt8], label: SecurityLabel, mediaType: String, payloadSize: Int, payloadDigest: [UInt8], decoded: [UInt8]? = nil) {
        self.itemID = itemID
        self.label = label
        self.mediaType = mediaType
        self.payloadSize = payloadSize
        self.payloadDigest = payloadDigest
        if let decoded {
            self.digest = SHA256.bytes(decoded)
            self.encoding = decoded
        } else {
            var w = DERWriter()
            Self.encode(itemID, label, mediaType, payloadSize, payloadDigest, into: &w)
            let bytes = w.bytes
            self.digest = SHA256.bytes(bytes)
            self.encoding = bytes
        }
    }

    /// The same item under another label (what a forger would try).
    public func relabelled(_ label: SecurityLabel) -> ItemManifest {
        ItemManifest(itemID: itemID, label: label, mediaType: mediaType, payloadSize: payloadSize, payloadDigest: payloadDigest)
    }

    static func encode(_ id: [UInt8], _ label: SecurityLabel, _ media: String, _ size: Int, _ digest: [UInt8], into c: inout DERWriter) {
        c.sequence { s in
            s.integer(protocolVersion)
            s.octets(id)
            LabelDocument(label).encode(into: &s)
            s.utf8(media)
            s.integer(size)
            s.octets(digest)
        }
    }

    public func encode(into c: inout DERWriter) throws {
        if let encoding { return c.raw(encoding) }
        Self.encode(itemID, label, mediaType, payloadSize, payloadDigest, into: &c)
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            let id = try r.octets(count: 16)
            let label = try LabelDocument.label(decoding: try r.node())
            let media = try r.utf8()
            let size = try r.integer()
            let digest = try r.octets(count: 32)
            return ItemManifest(
                itemID: id, label: label, mediaType: media, payloadSize: size, payloadDigest: digest, decoded: Array(node.encodedBytes))
        }
    }

    public var digestHex: String { Hex.encode(digest) }

    /// The canonical encoding: the one kept when this node built the
    /// manifest (shared, not re-encoded), else encoded now.
    public var encoded: [UInt8] { encoding ?? derBytes }

    /// Whether `payload` is the one this manifest names (size and SHA-256).
    public func matches(payload: some DataProtocol) -> Bool {
        payload.count == payloadSize && SHA256.bytes(payload) == payloadDigest
    }
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
        var s = DERWriter()
        s.sequence { b in
            b.integer(protocolVersion)
            b.party(originator)
            b.instant(sealedAt)
            b.integer(count)
            b.octets(root)
        }
        return s.bytes
    }

    public func encode(into c: inout DERWriter) throws {
        try c.sequence { s in
            s.raw(try bodyBytes())
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

    /// SHA-256 of the DER: how envelopes name the root.
    public var digest: [UInt8] { SHA256.bytes(derBytes) }

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
    public var path: AuditPath

    public func encode(into c: inout DERWriter) throws {
        try c.sequence { s in
            try root.encode(into: &s)
            s.integer(index)
            s.path(path)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            let root = try OriginRoot(decoding: try r.node())
            let index = try r.integer(in: 0...Int(Int32.max))
            return OriginSeal(root: root, index: index, path: try r.digestList())
        }
    }

    public init(root: OriginRoot, index: Int, path: AuditPath) {
        self.root = root
        self.index = index
        self.path = path
    }

    /// Whether this seal binds `manifest` under its root; does not check the
    /// root's signature (see ``SealVerifier``).
    public func binds(_ manifest: ItemManifest) -> Bool {
        binds(itemDigest: manifest.digest, originator: manifest.label.originator)
    }

    func binds(itemDigest: [UInt8], originator: Party) -> Bool {
        guard root.originator == originator else { return false }
        return MerkleHash.root(fromLeaf: MerkleHash.leaf(itemDigest), index: index, size: root.count, path: path) == root.root
    }
}

extension OriginSeal {
    /// Verifies that this seal binds `manifest` (its label and payload
    /// digest) and that the originator's signature over the root verifies
    /// with its pinned key at the sealing instant.
    public func verify(_ manifest: ItemManifest, trust: TrustStore) throws(SealingError) {
        guard binds(manifest) else {
            throw SealingError(.originSealInvalid, "the origin seal does not bind this label and payload digest (altered after sealing)")
        }
        let key = try trust.verifier(root.signature.keyID, of: root.originator, at: root.sealedAt)
        do { try key.verify(root.signature, over: try root.bodyBytes(), structure: OriginRoot.bodyName) } catch let e as SealingError {
            throw SealingError(.originSealInvalid, "the originator's seal does not verify: \(e.reason)")
        } catch {
            throw SealingError(.originSealInvalid, "the originator's seal cannot be encoded")
        }
    }

    /// What a seal check needs of one item: its digest, its originator, its seal.
    public struct Claim: Sendable {
        public var itemDigest: [UInt8]
        public var originator: Party
        public var seal: OriginSeal
        public init(itemDigest: [UInt8], originator: Party, seal: OriginSeal) {
            (self.itemDigest, self.originator, self.seal) = (itemDigest, originator, seal)
        }
    }

    /// The position of the first seal that does not bind its manifest, or
    /// `nil` when all do. Seals under one root that cover the whole batch
    /// the root was signed over are checked by rebuilding that tree once
    /// (2n hashes rather than n·log n) and comparing every path with it.
    public static func firstUnbound(_ items: [(manifest: ItemManifest, seal: OriginSeal)]) -> Int? {
        firstUnbound(items.map { Claim(itemDigest: $0.manifest.digest, originator: $0.manifest.label.originator, seal: $0.seal) })
    }

    /// The same check over the parts of each item it needs.
    public static func firstUnbound(_ items: [Claim]) -> Int? {
        guard !items.isEmpty else { return nil }
        // Items sealed together arrive together: group runs of one Merkle
        // root, hashing a root once per run rather than once per item.
        var groups: [[UInt8]: [Int]] = [:]
        var runStart = 0
        for n in 1...items.count where n == items.count || items[n].seal.root.root != items[runStart].seal.root.root {
            groups[items[runStart].seal.root.root, default: []].append(contentsOf: runStart..<n)
            runStart = n
        }
        var firstBad: Int?
        func bad(_ n: Int) { firstBad = min(firstBad ?? n, n) }
        func checkEach(_ members: [Int]) {
            for n in members where !items[n].seal.binds(itemDigest: items[n].itemDigest, originator: items[n].originator) { bad(n) }
        }
        for (_, members) in groups {
            let root = items[members[0]].seal.root
            let whole = members.count == root.count && members.allSatisfy { items[$0].seal.root == root }
            var byIndex = [Int](repeating: -1, count: whole ? root.count : 0)
            if whole {
                for n in members where items[n].seal.index >= 0 && items[n].seal.index < root.count && byIndex[items[n].seal.index] < 0 {
                    byIndex[items[n].seal.index] = n
                }
            }
            guard whole, !byIndex.contains(-1) else {
                checkEach(members)
                continue
            }
            for n in byIndex where items[n].originator != root.originator { bad(n) }
            let (paths, computed) = MerkleHash.pathsAndRoot(byIndex.map { MerkleHash.leaf(items[$0].itemDigest) })
            guard computed == root.root else {
                checkEach(members)
                continue
            }
            for (i, n) in byIndex.enumerated() where items[n].seal.path != paths[i] { bad(n) }
        }
        return firstBad
    }
}

/// An item as its originator seals it: manifest, seal and payload.
public struct SealedItem: Hashable, Sendable {
    public var manifest: ItemManifest
    public var seal: OriginSeal
    public var payload: [UInt8]

    /// An item as a holder kept it, to pass on. Nothing trusts this: every
    /// receiver checks the seal against the originator's pinned key.
    public init(manifest: ItemManifest, seal: OriginSeal, payload: [UInt8]) {
        (self.manifest, self.seal, self.payload) = (manifest, seal, payload)
    }
}

extension SigningKey {
    /// Seals `items` as their originator: one signature over the Merkle root
    /// of their digests, each item keeping its path.
    public func sealOrigin(
        _ items: [(label: SecurityLabel, mediaType: String, payload: [UInt8])], originator: Party, at instant: Date
    ) throws -> [SealedItem] {
        precondition(!items.isEmpty, "seal at least one item")
        // Item ids: the sealing instant's 48-bit millisecond count, then 80
        // random bits (UUIDv7's order), all from one call to the CSPRNG.
        let random = SecureRandom.bytes(10 * items.count)
        let ms = UInt64(max(0, Instant.milliseconds(instant)))
        let prefix = (0..<6).map { UInt8(truncatingIfNeeded: ms >> (8 * (5 - $0))) }
        let manifests = items.enumerated().map { n, item in
            var label = item.label
            label.created = Instant.normalized(label.created)
            label.review = label.review.map(Instant.normalized)
            let id = prefix + random[(n * 10)..<(n * 10 + 10)]
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
