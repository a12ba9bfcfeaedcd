internal import Crypto
public import Foundation
public import LiaisonModel
public import SwiftASN1

/// What every envelope says of itself: from, to, the agreement it travels
/// under, its link sequence number and the instant it was sent.
public struct EnvelopeHeader: Hashable, Sendable, CanonicalValue {
    public static let structureName = "EnvelopeHeader"
    public var from: Party
    public var to: Party
    public var agreementDigest: [UInt8]
    public var sequence: Int
    public var at: Date

    public init(from: Party, to: Party, agreementDigest: [UInt8], sequence: Int, at: Date) {
        (self.from, self.to, self.agreementDigest, self.sequence, self.at) = (from, to, agreementDigest, sequence, Instant.normalized(at))
    }

    public func encode(into c: inout DER.Serializer) throws {
        try c.sequence { s in
            try s.integer(protocolVersion); try s.party(from); try s.party(to); try s.octets(agreementDigest)
            try s.integer(sequence); try s.instant(at)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            return EnvelopeHeader(
                from: try r.party(), to: try r.party(), agreementDigest: try r.octets(count: 32), sequence: try r.integer(),
                at: try r.instant())
        }
    }
}

/// One item crossing the wire: header, manifest (label and payload
/// digest), origin seal, consents, and the payload encrypted to the
/// recipient node — plus its position and audit path in its batch, so that
/// it verifies on its own against the batch's signed root.
public struct Envelope: Hashable, Sendable, CanonicalValue {
    public static let structureName = "Envelope"
    public var header: EnvelopeHeader
    public var manifest: ItemManifest
    public var originSeal: OriginSeal
    public var consents: [Signed<ConsentBody>]
    /// AES-256-GCM ciphertext ‖ tag.
    public var ciphertext: [UInt8]
    public var batchIndex: Int
    public var path: [[UInt8]]

    init(
        header: EnvelopeHeader, manifest: ItemManifest, originSeal: OriginSeal, consents: [Signed<ConsentBody>],
        ciphertext: [UInt8], batchIndex: Int, path: [[UInt8]]
    ) {
        self.header = header
        self.manifest = manifest
        self.originSeal = originSeal
        self.consents = consents
        self.ciphertext = ciphertext
        self.batchIndex = batchIndex
        self.path = path
    }

    func encodeCore(into c: inout DER.Serializer) throws {
        try c.sequence { s in
            try header.encode(into: &s)
            try manifest.encode(into: &s)
            try originSeal.encode(into: &s)
            try s.sequence { cs in for k in consents { try k.encode(into: &cs) } }
            try s.octets(ciphertext)
        }
    }

    /// SHA-256 of the envelope without its batch position: the batch leaf.
    public var digest: [UInt8] {
        var s = DER.Serializer()
        try! encodeCore(into: &s)
        return Array(SHA256.hash(data: s.serializedBytes))
    }

    public func encode(into c: inout DER.Serializer) throws {
        try c.sequence { s in
            try s.integer(protocolVersion)
            try encodeCore(into: &s)
            try s.integer(batchIndex)
            try s.sequence { p in for h in path { try p.octets(h) } }
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { (r: inout FieldReader) throws -> Envelope in
            try r.version()
            let core: Envelope = try r.sequence { (c: inout FieldReader) throws -> Envelope in
                let header = try EnvelopeHeader(decoding: try c.node())
                let manifest = try ItemManifest(decoding: try c.node())
                let seal = try OriginSeal(decoding: try c.node())
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
                    header: header, manifest: manifest, originSeal: seal, consents: consents, ciphertext: ciphertext,
                    batchIndex: 0, path: [])
            }
            let index = try r.integer(in: 0...Int(Int32.max))
            let path: [[UInt8]] = try r.sequence { p in
                var out: [[UInt8]] = []
                while p.hasMore {
                    guard out.count < 64 else { throw p.fail("an audit path has at most 64 hashes") }
                    out.append(try p.octets(count: 32))
                }
                return out
            }
            var envelope = core
            envelope.batchIndex = index
            envelope.path = path
            return envelope
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

    public func encode(into c: inout DER.Serializer) throws {
        try c.sequence { s in
            try s.integer(protocolVersion); try s.enumerated(suite.wireValue); try s.party(from); try s.party(to)
            try s.octets(agreementDigest); try s.octets(encapsulatedKey); try s.integer(count); try s.octets(root)
            try s.instant(at)
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

    static func aad(header: EnvelopeHeader, manifest: ItemManifest) -> [UInt8] {
        Array(SHA256.hash(data: header.derBytes)) + manifest.digest
    }
}

/// A batch as it crosses the wire.
public struct EnvelopeBatch: Hashable, Sendable, CanonicalValue {
    public static let structureName = "EnvelopeBatch"
    public var header: Signed<BatchHeader>
    public var envelopes: [Envelope]

    public func encode(into c: inout DER.Serializer) throws {
        try c.sequence { s in
            try s.integer(protocolVersion)
            try header.encode(into: &s)
            try s.sequence { es in for e in envelopes { try e.encode(into: &es) } }
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            let header = try Signed<BatchHeader>(decoding: try r.node())
            let envelopes: [Envelope] = try r.sequence { es in
                var out: [Envelope] = []
                while es.hasMore {
                    guard out.count < header.body.count else { throw es.fail("more envelopes than the header counts") }
                    out.append(try Envelope(decoding: try es.node()))
                }
                return out
            }
            return EnvelopeBatch(header: header, envelopes: envelopes)
        }
    }

    init(header: Signed<BatchHeader>, envelopes: [Envelope]) {
        self.header = header
        self.envelopes = envelopes
    }

    /// Each envelope on its own, as a receiver stores and verifies it.
    public var unverified: [UnverifiedEnvelope] { envelopes.map { UnverifiedEnvelope(header: header, envelope: $0) } }
}

/// An envelope and its batch's signed header, as received: nothing in it
/// is trusted until ``EnvelopeOpener`` turns it into a ``VerifiedEnvelope``.
public struct UnverifiedEnvelope: Hashable, Sendable, CanonicalValue {
    public static let structureName = "StandaloneEnvelope"
    public var header: Signed<BatchHeader>
    public var envelope: Envelope

    public init(header: Signed<BatchHeader>, envelope: Envelope) {
        self.header = header
        self.envelope = envelope
    }

    public func encode(into c: inout DER.Serializer) throws {
        try c.sequence { s in
            try s.integer(protocolVersion)
            try header.encode(into: &s)
            try envelope.encode(into: &s)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            return UnverifiedEnvelope(header: try Signed<BatchHeader>(decoding: try r.node()), envelope: try Envelope(decoding: try r.node()))
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
        precondition(!items.isEmpty && items.count <= 65_536, "a batch holds 1 to 65,536 envelopes")
        guard suite == agreement.suite, recipientKey.suite == agreement.suite else {
            throw SealingError(.suiteMismatch, "\(agreement.id) uses \(agreement.suite.rawValue); the keys must too")
        }
        let digest = agreement.digest
        let sender = try recipientKey.hpkeSender(info: BatchHeader.hpkeInfo(from: from, to: to, agreementDigest: digest))
        let key = try sender.exportSecret(context: BatchHeader.exportContext, outputByteCount: 32)
        var envelopes: [Envelope] = []
        envelopes.reserveCapacity(items.count)
        for (i, o) in items.enumerated() {
            let header = EnvelopeHeader(from: from, to: to, agreementDigest: digest, sequence: firstSequence + i, at: instant)
            let box = try AES.GCM.seal(
                o.item.payload, using: key, nonce: BatchHeader.nonce(i),
                authenticating: BatchHeader.aad(header: header, manifest: o.item.manifest))
            envelopes.append(
                Envelope(
                    header: header, manifest: o.item.manifest, originSeal: o.item.seal, consents: o.consents,
                    ciphertext: Array(box.ciphertext) + Array(box.tag), batchIndex: i, path: []))
        }
        let leaves = envelopes.map { MerkleHash.leaf($0.digest) }
        let paths = MerkleHash.paths(leaves)
        for i in envelopes.indices { envelopes[i].path = paths[i] }
        let header = BatchHeader(
            suite: suite, from: from, to: to, agreementDigest: digest, encapsulatedKey: Array(sender.encapsulatedKey),
            count: envelopes.count, root: MerkleHash.root(leaves[...]), at: Instant.normalized(instant))
        return EnvelopeBatch(header: try Signed(signing: header, with: self), envelopes: envelopes)
    }
}
