internal import Crypto
public import Foundation
public import LiaisonModel
public import SwiftASN1

/// What every envelope says of itself: from, to, the agreement it travels
/// under, its link sequence number and the instant it was sent.
public struct EnvelopeHeader: Hashable, Sendable, CanonicalValue {
    public static let structureName = "EnvelopeHeader"
    public let from: Party
    public let to: Party
    public let agreementDigest: [UInt8]
    public let sequence: Int
    public let at: Date
    /// SHA-256 of the canonical encoding (bound into the payload's AAD).
    public let digest: [UInt8]
    let encoding: [UInt8]?

    public static func == (a: EnvelopeHeader, b: EnvelopeHeader) -> Bool {
        a.from == b.from && a.to == b.to && a.agreementDigest == b.agreementDigest && a.sequence == b.sequence && a.at == b.at
    }
    public func hash(into h: inout Hasher) { h.combine(digest) }

    public init(from: Party, to: Party, agreementDigest: [UInt8], sequence: Int, at: Date) {
        self.init(from: from, to: to, agreementDigest: agreementDigest, sequence: sequence, at: Instant.normalized(at), digest: nil)
    }

    init(from: Party, to: Party, agreementDigest: [UInt8], sequence: Int, at: Date, digest: [UInt8]?) {
        (self.from, self.to, self.agreementDigest, self.sequence, self.at) = (from, to, agreementDigest, sequence, at)
        if let digest {
            self.digest = digest
            self.encoding = nil
        } else {
            var w = DERWriter()
            Self.encode(from, to, agreementDigest, sequence, at, into: &w)
            let bytes = w.bytes
            self.digest = SHA256.bytes(bytes)
            self.encoding = bytes
        }
    }

    /// The same header with another sequence number (what a replayer would try).
    public func renumbered(_ sequence: Int) -> EnvelopeHeader {
        EnvelopeHeader(from: from, to: to, agreementDigest: agreementDigest, sequence: sequence, at: at)
    }

    static func encode(_ from: Party, _ to: Party, _ digest: [UInt8], _ sequence: Int, _ at: Date, into c: inout DERWriter) {
        c.sequence { s in
            s.integer(protocolVersion); s.party(from); s.party(to); s.octets(digest)
            s.integer(sequence); s.instant(at)
        }
    }

    public func encode(into c: inout DERWriter) throws {
        if let encoding { return c.raw(encoding) }
        Self.encode(from, to, agreementDigest, sequence, at, into: &c)
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            return EnvelopeHeader(
                from: try r.party(), to: try r.party(), agreementDigest: try r.octets(count: 32), sequence: try r.integer(),
                at: try r.instant(), digest: SHA256.bytes(node.encodedBytes))
        }
    }
}

/// Where an item sits under its originator's signed root, as envelopes
/// carry it: the root itself travels once per batch and is named here by
/// its digest.
public struct OriginProof: Hashable, Sendable {
    /// SHA-256 of the ``OriginRoot`` DER.
    public let rootDigest: [UInt8]
    public let index: Int
    public let path: AuditPath

    public init(rootDigest: [UInt8], index: Int, path: AuditPath) {
        (self.rootDigest, self.index, self.path) = (rootDigest, index, path)
    }

    func encode(into c: inout DERWriter) {
        c.sequence { s in
            s.octets(rootDigest)
            s.integer(index)
            s.path(path)
        }
    }

    static func decode(_ r: inout FieldReader) throws -> OriginProof {
        try r.sequence { p in
            let digest = try p.octets(count: 32)
            let index = try p.integer(in: 0...Int(Int32.max))
            let path = try p.digestList()
            return OriginProof(rootDigest: digest, index: index, path: path)
        }
    }
}

/// One item crossing the wire: header, manifest (label and payload
/// digest), its proof under the originator's root, consents, and the
/// payload encrypted to the recipient node — plus its position and audit
/// path in its batch, so that it verifies on its own against the batch's
/// signed root.
public struct Envelope: Hashable, Sendable, CanonicalValue {
    public static let structureName = "Envelope"
    public let header: EnvelopeHeader
    public let manifest: ItemManifest
    public let originProof: OriginProof
    public let consents: [Signed<ConsentBody>]
    /// AES-256-GCM ciphertext ‖ tag.
    public let ciphertext: [UInt8]
    public let batchIndex: Int
    public let path: AuditPath
    /// SHA-256 of the envelope without its batch position: the batch leaf.
    public let digest: [UInt8]
    /// The core's encoding, kept when this node built the envelope.
    let coreEncoding: [UInt8]?

    public static func == (a: Envelope, b: Envelope) -> Bool {
        a.digest == b.digest && a.header == b.header && a.manifest == b.manifest && a.originProof == b.originProof
            && a.consents == b.consents && a.ciphertext == b.ciphertext && a.batchIndex == b.batchIndex && a.path == b.path
    }
    public func hash(into h: inout Hasher) {
        h.combine(digest)
        h.combine(batchIndex)
    }

    init(
        header: EnvelopeHeader, manifest: ItemManifest, originProof: OriginProof, consents: [Signed<ConsentBody>],
        ciphertext: [UInt8], batchIndex: Int, path: AuditPath, digest: [UInt8]? = nil, coreEncoding: [UInt8]? = nil
    ) {
        self.header = header
        self.manifest = manifest
        self.originProof = originProof
        self.consents = consents
        self.ciphertext = ciphertext
        self.batchIndex = batchIndex
        self.path = path
        if let digest {
            self.digest = digest
            self.coreEncoding = coreEncoding
        } else {
            var w = DERWriter()
            try! Self.encodeCore(header, manifest, originProof, consents, ciphertext, into: &w)
            let bytes = w.bytes
            self.digest = SHA256.bytes(bytes)
            self.coreEncoding = bytes
        }
    }

    /// A copy with some parts replaced, its digest recomputed (for tests
    /// that play a forger, and for placing an envelope in its batch).
    public func with(
        header: EnvelopeHeader? = nil, manifest: ItemManifest? = nil, originProof: OriginProof? = nil,
        consents: [Signed<ConsentBody>]? = nil, ciphertext: [UInt8]? = nil, batchIndex: Int? = nil, path: AuditPath? = nil
    ) -> Envelope {
        let same = header == nil && manifest == nil && originProof == nil && consents == nil && ciphertext == nil
        return Envelope(
            header: header ?? self.header, manifest: manifest ?? self.manifest, originProof: originProof ?? self.originProof,
            consents: consents ?? self.consents, ciphertext: ciphertext ?? self.ciphertext, batchIndex: batchIndex ?? self.batchIndex,
            path: path ?? self.path, digest: same ? digest : nil, coreEncoding: same ? coreEncoding : nil)
    }

    static func encodeCore(
        _ header: EnvelopeHeader, _ manifest: ItemManifest, _ proof: OriginProof, _ consents: [Signed<ConsentBody>],
        _ ciphertext: [UInt8], into c: inout DERWriter
    ) throws {
        try c.sequence { s in
            try header.encode(into: &s)
            try manifest.encode(into: &s)
            proof.encode(into: &s)
            try s.sequence { cs in for k in consents { try k.encode(into: &cs) } }
            s.octets(ciphertext)
        }
    }

    public func encode(into c: inout DERWriter) throws {
        try c.sequence { s in
            s.integer(protocolVersion)
            if let coreEncoding {
                s.raw(coreEncoding)
            } else {
                try Self.encodeCore(header, manifest, originProof, consents, ciphertext, into: &s)
            }
            s.integer(batchIndex)
            s.path(path)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { (r: inout FieldReader) throws -> Envelope in
            try r.version()
            let coreNode = try r.node()
            let core: Envelope = try FieldReader.read(coreNode, "EnvelopeCore") { (c: inout FieldReader) throws -> Envelope in
                let header = try EnvelopeHeader(decoding: try c.node())
                let manifest = try ItemManifest(decoding: try c.node())
                let proof = try OriginProof.decode(&c)
                let consents: [Signed<ConsentBody>] = try c.sequence { (cs: inout FieldReader) throws -> [Signed<ConsentBody>] in
                    var out: [Signed<ConsentBody>] = []
                    while cs.hasMore {
                        guard out.count < 16 else { throw cs.fail("an envelope carries at most 16 consents") }
                        out.append(try Signed<ConsentBody>(decoding: try cs.node()))
                    }
                    return out
                }
                let ciphertext = try c.octets()
                return Envelope(
                    header: header, manifest: manifest, originProof: proof, consents: consents, ciphertext: ciphertext,
                    batchIndex: 0, path: [], digest: SHA256.bytes(coreNode.encodedBytes))
            }
            let index = try r.integer(in: 0...Int(Int32.max))
            let path = try r.digestList()
            return Envelope(
                header: core.header, manifest: core.manifest, originProof: core.originProof, consents: core.consents,
                ciphertext: core.ciphertext, batchIndex: index, path: path, digest: core.digest)
        }
    }
}

/// The signed head of a batch of envelopes to one peer: one HPKE
/// encapsulation and one signature over the Merkle root of the envelope
/// digests, shared by every envelope of the batch.
public struct BatchHeader: StatementBody {
    public static let structureName = "BatchHeader"
    public var suite: CryptoSuite
    public var from: Party
    public var to: Party
    public var agreementDigest: [UInt8]
    public var encapsulatedKey: [UInt8]
    public var count: Int
    public var root: [UInt8]
    public var at: Date
    public var signer: Party { from }
    public var signedAt: Date { at }

    public func encode(into c: inout DERWriter) throws {
        c.sequence { s in
            s.integer(protocolVersion); s.enumerated(suite.wireValue); s.party(from); s.party(to)
            s.octets(agreementDigest); s.octets(encapsulatedKey); s.integer(count); s.octets(root)
            s.instant(at)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            let suite = try CryptoSuite.fromWire(try r.enumerated(in: 0...255))
            return BatchHeader(
                suite: suite, from: try r.party(), to: try r.party(), agreementDigest: try r.octets(count: 32),
                encapsulatedKey: try r.octets(count: suite == .hybridPQ ? 1120 : 97), count: try r.integer(in: 1...65_536),
                root: try r.octets(count: 32), at: try r.instant())
        }
    }

    init(suite: CryptoSuite, from: Party, to: Party, agreementDigest: [UInt8], encapsulatedKey: [UInt8], count: Int, root: [UInt8], at: Date) {
        (self.suite, self.from, self.to, self.agreementDigest, self.encapsulatedKey, self.count, self.root, self.at) =
            (suite, from, to, agreementDigest, encapsulatedKey, count, root, at)
    }

    /// HPKE `info`: binds the encapsulation to the link and the agreement.
    static func hpkeInfo(from: Party, to: Party, agreementDigest: [UInt8]) -> [UInt8] {
        Array("liaison/v1/batch/\(from)/\(to)/".utf8) + agreementDigest
    }

    static let exportContext = Data("liaison/v1/payload-key".utf8)

    static func nonce(_ index: Int) -> AES.GCM.Nonce {
        var bytes = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 { bytes[11 - i] = UInt8(truncatingIfNeeded: UInt64(index) >> (8 * UInt64(i))) }
        return try! AES.GCM.Nonce(data: bytes)
    }

    static func aad(header: EnvelopeHeader, itemDigest: [UInt8]) -> [UInt8] { header.digest + itemDigest }
}

/// A batch as it crosses the wire: the signed header, each distinct origin
/// root once, and the envelopes.
public struct EnvelopeBatch: Hashable, Sendable, CanonicalValue {
    public static let structureName = "EnvelopeBatch"
    public let header: Signed<BatchHeader>
    public let originRoots: [OriginRoot]
    public let envelopes: [Envelope]

    public func encode(into c: inout DERWriter) throws {
        try c.sequence { s in
            s.integer(protocolVersion)
            try header.encode(into: &s)
            try s.sequence { rs in for r in originRoots { try r.encode(into: &rs) } }
            try s.sequence { es in for e in envelopes { try e.encode(into: &es) } }
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            let header = try Signed<BatchHeader>(decoding: try r.node())
            let roots: [OriginRoot] = try r.sequence { rs in
                var out: [OriginRoot] = []
                while rs.hasMore {
                    guard out.count < header.body.count else { throw rs.fail("more origin roots than envelopes") }
                    out.append(try OriginRoot(decoding: try rs.node()))
                }
                return out
            }
            let envelopes: [Envelope] = try r.sequence { es in
                var out: [Envelope] = []
                while es.hasMore {
                    guard out.count < header.body.count else { throw es.fail("more envelopes than the header counts") }
                    out.append(try Envelope(decoding: try es.node()))
                }
                return out
            }
            return EnvelopeBatch(header: header, originRoots: roots, envelopes: envelopes)
        }
    }

    init(header: Signed<BatchHeader>, originRoots: [OriginRoot], envelopes: [Envelope]) {
        self.header = header
        self.originRoots = originRoots
        self.envelopes = envelopes
    }

    /// Each envelope on its own with its origin root, as a receiver stores
    /// and verifies it; an envelope naming a root the batch lacks is left out.
    public var unverified: [UnverifiedEnvelope] {
        let roots = Dictionary(originRoots.map { ($0.digest, $0) }, uniquingKeysWith: { a, _ in a })
        return envelopes.compactMap { e in
            roots[e.originProof.rootDigest].map { UnverifiedEnvelope(header: header, originRoot: $0, envelope: e) }
        }
    }
}

/// An envelope with its batch's signed header and its origin root, as
/// received: nothing in it is trusted until ``EnvelopeOpener`` turns it
/// into a ``VerifiedEnvelope``.
public struct UnverifiedEnvelope: Hashable, Sendable, CanonicalValue {
    public static let structureName = "StandaloneEnvelope"
    public let header: Signed<BatchHeader>
    public let originRoot: OriginRoot
    public let envelope: Envelope

    public init(header: Signed<BatchHeader>, originRoot: OriginRoot, envelope: Envelope) {
        self.header = header
        self.originRoot = originRoot
        self.envelope = envelope
    }

    public func encode(into c: inout DERWriter) throws {
        try c.sequence { s in
            s.integer(protocolVersion)
            try header.encode(into: &s)
            try originRoot.encode(into: &s)
            try envelope.encode(into: &s)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            return UnverifiedEnvelope(
                header: try Signed<BatchHeader>(decoding: try r.node()), originRoot: try OriginRoot(decoding: try r.node()),
                envelope: try Envelope(decoding: try r.node()))
        }
    }
}

/// An item taken on board for sending: sealed by its originator, with the
/// consents that let the holder release it.
public struct Outgoing: Sendable {
    public var item: SealedItem
    public var consents: [Signed<ConsentBody>]
    public init(item: SealedItem, consents: [Signed<ConsentBody>] = []) {
        self.item = item
        self.consents = consents
    }
}

extension SigningKey {
    /// Seals `items` for `recipient` in one batch: one HPKE encapsulation to
    /// the recipient's pinned encryption key, one AES-256-GCM key exported
    /// from it, a nonce per position, and one signature over the Merkle root
    /// of the envelope digests.
    public func sealBatch(
        _ items: [Outgoing], from: Party, to: Party, recipientKey: EncryptionKey, agreement: Agreement, firstSequence: Int,
        at instant: Date
    ) throws -> EnvelopeBatch {
        try sealBatch(
            items, from: from, to: to, recipientKey: recipientKey, agreement: agreement,
            sequences: items.indices.map { firstSequence + $0 }, at: instant)
    }

    /// As above, each envelope with its own link sequence number (a sender
    /// retrying some envelopes of a link resends them under the numbers
    /// they were queued with).
    public func sealBatch(
        _ items: [Outgoing], from: Party, to: Party, recipientKey: EncryptionKey, agreement: Agreement, sequences: [Int],
        at instant: Date
    ) throws -> EnvelopeBatch {
        precondition(!items.isEmpty && items.count <= 65_536, "a batch holds 1 to 65,536 envelopes")
        precondition(sequences.count == items.count, "one link sequence number per envelope")
        guard suite == agreement.suite, recipientKey.suite == agreement.suite else {
            throw SealingError(.suiteMismatch, "\(agreement.id) uses \(agreement.suite.rawValue); the keys must too")
        }
        let digest = agreement.digest
        let sender = try recipientKey.hpkeSender(info: BatchHeader.hpkeInfo(from: from, to: to, agreementDigest: digest))
        let key = try sender.exportSecret(context: BatchHeader.exportContext, outputByteCount: 32)
        var envelopes: [Envelope] = []
        envelopes.reserveCapacity(items.count)
        var roots: [OriginRoot] = []
        // One entry per signed origin statement (originator, instant, count, root).
        var rootDigests: [DigestKey: (root: OriginRoot, digest: [UInt8])] = [:]
        for (i, o) in items.enumerated() {
            let header = EnvelopeHeader(from: from, to: to, agreementDigest: digest, sequence: sequences[i], at: instant)
            let box = try AES.GCM.seal(
                o.item.payload, using: key, nonce: BatchHeader.nonce(i),
                authenticating: BatchHeader.aad(header: header, itemDigest: o.item.manifest.digest))
            let root = o.item.seal.root
            let rootDigest: [UInt8]
            let key = DigestKey(root.root)
            if let known = rootDigests[key], known.root.originator == root.originator, known.root.sealedAt == root.sealedAt,
                known.root.count == root.count
            {
                rootDigest = known.digest
            } else {
                rootDigest = root.digest
                rootDigests[key] = (root, rootDigest)
                roots.append(root)
            }
            envelopes.append(
                Envelope(
                    header: header, manifest: o.item.manifest,
                    originProof: OriginProof(rootDigest: rootDigest, index: o.item.seal.index, path: o.item.seal.path),
                    consents: o.consents, ciphertext: Array(box.combined!.dropFirst(12)), batchIndex: i, path: []))
        }
        let leaves = envelopes.map { MerkleHash.leaf($0.digest) }
        let paths = MerkleHash.paths(leaves)
        for i in envelopes.indices { envelopes[i] = envelopes[i].with(path: paths[i]) }
        let header = BatchHeader(
            suite: suite, from: from, to: to, agreementDigest: digest, encapsulatedKey: Array(sender.encapsulatedKey),
            count: envelopes.count, root: MerkleHash.root(leaves[...]), at: Instant.normalized(instant))
        return EnvelopeBatch(header: try Signed(signing: header, with: self), originRoots: roots, envelopes: envelopes)
    }
}
