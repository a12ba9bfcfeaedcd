internal import Crypto
public import Foundation
public import LiaisonModel
public import SwiftASN1

/// The public half of a node's identity, published out of band to the
/// other parties: its signing and encryption keys and its TLS root and node
/// certificates (DER). Agreements pin their fingerprints.
public struct NodeIdentity: Hashable, Sendable, CanonicalValue {
    public static let structureName = "NodeIdentity"
    public var party: Party
    public var signingKey: VerifyingKey
    public var encryptionKey: EncryptionKey
    public var rootCertificate: [UInt8]
    public var nodeCertificate: [UInt8]

    public init(party: Party, signingKey: VerifyingKey, encryptionKey: EncryptionKey, rootCertificate: [UInt8], nodeCertificate: [UInt8]) {
        (self.party, self.signingKey, self.encryptionKey, self.rootCertificate, self.nodeCertificate) =
            (party, signingKey, encryptionKey, rootCertificate, nodeCertificate)
    }

    public func encode(into c: inout DERWriter) throws {
        try c.sequence { s in
            s.integer(protocolVersion)
            s.party(party)
            try signingKey.encode(into: &s)
            try encryptionKey.encode(into: &s)
            s.octets(rootCertificate)
            s.octets(nodeCertificate)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            return NodeIdentity(
                party: try r.party(), signingKey: try VerifyingKey(decoding: try r.node()),
                encryptionKey: try EncryptionKey(decoding: try r.node()), rootCertificate: try r.octets(),
                nodeCertificate: try r.octets())
        }
    }

    /// The anchors an agreement lists for this node (`trust_anchors`).
    public var anchors: [TrustAnchor] {
        [
            TrustAnchor(kind: "root-ca", fingerprint: "sha256:" + Hex.encode(SHA256Digest.of(rootCertificate))),
            TrustAnchor(kind: "signing-key", fingerprint: signingKey.fingerprint),
            TrustAnchor(kind: "encryption-key", fingerprint: encryptionKey.fingerprint),
        ]
    }
}

/// The keys this node trusts, by party — pinned by the agreements'
/// `trust_anchors` and extended only by rotations signed by an already
/// trusted key (invariant 7). Nothing in a message adds a key.
public struct TrustStore: Sendable {
    struct Entry: Sendable {
        var party: Party
        var key: VerifyingKey
        /// Parsed once when pinned; `nil` if the key does not parse.
        var parsed: ParsedVerifyingKey?
        var validFrom: Date?
        var validUntil: Date?
    }

    private var signing: [[UInt8]: Entry] = [:]
    private var encryption: [Party: EncryptionKey] = [:]

    public init() {}

    /// Trusts the identities whose fingerprints `agreements` pin; refuses an
    /// identity any of whose keys is not pinned for its party.
    public init(agreements: [Agreement], identities: [NodeIdentity]) throws(SealingError) {
        for id in identities {
            let pinned = Set(agreements.flatMap { a in a.parties.filter { $0.party == id.party }.flatMap(\.trustAnchors) })
            guard pinned.contains(TrustAnchor(kind: "signing-key", fingerprint: id.signingKey.fingerprint)) else {
                throw SealingError(.unpinnedKey, "the signing key \(id.signingKey.fingerprint) of \(id.party) is not pinned by any agreement")
            }
            guard pinned.contains(TrustAnchor(kind: "encryption-key", fingerprint: id.encryptionKey.fingerprint)) else {
                throw SealingError(
                    .unpinnedKey, "the encryption key \(id.encryptionKey.fingerprint) of \(id.party) is not pinned by any agreement")
            }
            pin(id.signingKey, of: id.party)
            encryption[id.party] = id.encryptionKey
        }
    }

    /// Trusts `key` for `party` within an optional validity window.
    public mutating func pin(_ key: VerifyingKey, of party: Party, validFrom: Date? = nil, validUntil: Date? = nil) {
        signing[key.keyID] = Entry(party: party, key: key, parsed: try? ParsedVerifyingKey(key), validFrom: validFrom, validUntil: validUntil)
    }

    public mutating func pinEncryption(_ key: EncryptionKey, of party: Party) { encryption[party] = key }

    /// The pinned key with `keyID`, if it belongs to `party` and is valid at `instant`.
    public func verifyingKey(_ keyID: [UInt8], of party: Party, at instant: Date) throws(SealingError) -> VerifyingKey {
        try verifier(keyID, of: party, at: instant).key
    }

    /// The same, parsed, ready to verify.
    func verifier(_ keyID: [UInt8], of party: Party, at instant: Date) throws(SealingError) -> ParsedVerifyingKey {
        guard let e = signing[keyID] else {
            throw SealingError(.unpinnedKey, "key \(Hex.encode(keyID.prefix(8)))… is not pinned for any party")
        }
        guard e.party == party else {
            throw SealingError(.wrongSigner, "key \(Hex.encode(keyID.prefix(8)))… belongs to \(e.party), not \(party)")
        }
        if let f = e.validFrom, instant < f {
            throw SealingError(.keyNotValidAt, "\(party)'s key \(Hex.encode(keyID.prefix(8)))… is valid only from \(RFC3339.format(f))")
        }
        if let u = e.validUntil, instant >= u {
            throw SealingError(.keyNotValidAt, "\(party)'s key \(Hex.encode(keyID.prefix(8)))… was retired at \(RFC3339.format(u))")
        }
        guard let parsed = e.parsed else { throw SealingError(.invalidKey, "\(party)'s pinned key does not parse") }
        return parsed
    }

    public func encryptionKey(of party: Party) throws(SealingError) -> EncryptionKey {
        guard let k = encryption[party] else { throw SealingError(.unpinnedKey, "no encryption key is pinned for \(party)") }
        return k
    }

    /// Accepts a rotation: the old key must already be trusted for the
    /// party and must have signed it, and the new key must have signed it
    /// too (proof of possession). Both stay valid for the overlap
    /// `[validFrom, oldValidUntil)`; the old key is retired after it.
    public mutating func accept(_ rotation: KeyRotation) throws(SealingError) {
        let b = rotation.body
        guard let old = signing[b.oldKeyID], old.party == b.party else {
            throw SealingError(.invalidRotation, "the rotation's old key is not a trusted key of \(b.party)")
        }
        guard b.validFrom < b.oldValidUntil else {
            throw SealingError(.invalidRotation, "the overlap must start before the old key retires")
        }
        guard b.newKey.suite == old.key.suite else {
            throw SealingError(.invalidRotation, "a rotation keeps the suite (\(old.key.suite.rawValue))")
        }
        let body = b.derBytes
        do {
            try old.key.verify(rotation.oldSignature, over: body, structure: KeyRotation.bodyName)
            try b.newKey.verify(rotation.newSignature, over: body, structure: KeyRotation.bodyName)
        } catch {
            throw SealingError(.invalidRotation, "the rotation is not signed by both keys: \(error.reason)")
        }
        signing[b.oldKeyID]!.validUntil = min(old.validUntil ?? b.oldValidUntil, b.oldValidUntil)
        signing[b.newKey.keyID] = Entry(
            party: b.party, key: b.newKey, parsed: try? ParsedVerifyingKey(b.newKey), validFrom: b.validFrom, validUntil: nil)
        if let e = b.newEncryptionKey { encryption[b.party] = e }
    }
}

/// A key rotation: a new signing key (and optionally a new encryption key)
/// introduced by the old key, with an overlap during which both are valid.
public struct KeyRotation: Hashable, Sendable, CanonicalValue {
    public static let structureName = "KeyRotation"
    static let bodyName = "KeyRotationBody"

    public struct Body: Hashable, Sendable, CanonicalValue {
        public static let structureName = "KeyRotationBody"
        public var party: Party
        public var oldKeyID: [UInt8]
        public var newKey: VerifyingKey
        public var newEncryptionKey: EncryptionKey?
        public var validFrom: Date
        public var oldValidUntil: Date

        public func encode(into c: inout DERWriter) throws {
            try c.sequence { s in
                s.integer(protocolVersion)
                s.party(party)
                s.octets(oldKeyID)
                try newKey.encode(into: &s)
                if let e = newEncryptionKey { try s.optional(0) { try e.encode(into: &$0) } }
                s.instant(validFrom)
                s.instant(oldValidUntil)
            }
        }

        public init(decoding node: ASN1Node) throws {
            self = try FieldReader.read(node, Self.structureName) { r in
                try r.version()
                let party = try r.party(), old = try r.octets(count: 32), new = try VerifyingKey(decoding: try r.node())
                let enc = try r.optional(0) { n in try EncryptionKey(decoding: n) }
                return Body(party: party, oldKeyID: old, newKey: new, newEncryptionKey: enc, validFrom: try r.instant(), oldValidUntil: try r.instant())
            }
        }

        public init(party: Party, oldKeyID: [UInt8], newKey: VerifyingKey, newEncryptionKey: EncryptionKey?, validFrom: Date, oldValidUntil: Date) {
            (self.party, self.oldKeyID, self.newKey, self.newEncryptionKey, self.validFrom, self.oldValidUntil) =
                (party, oldKeyID, newKey, newEncryptionKey, Instant.normalized(validFrom), Instant.normalized(oldValidUntil))
        }
    }

    public var body: Body
    public var oldSignature: Signature
    public var newSignature: Signature

    /// Rotates from `old` to `new`, valid together from `validFrom` until `oldValidUntil`.
    public init(party: Party, from old: SigningKey, to new: SigningKey, newEncryptionKey: EncryptionKey? = nil, validFrom: Date, oldValidUntil: Date) throws {
        body = Body(
            party: party, oldKeyID: old.verifyingKey.keyID, newKey: new.verifyingKey, newEncryptionKey: newEncryptionKey,
            validFrom: validFrom, oldValidUntil: oldValidUntil)
        oldSignature = try old.sign(body.derBytes, structure: Self.bodyName)
        newSignature = try new.sign(body.derBytes, structure: Self.bodyName)
    }

    init(body: Body, oldSignature: Signature, newSignature: Signature) {
        (self.body, self.oldSignature, self.newSignature) = (body, oldSignature, newSignature)
    }

    public func encode(into c: inout DERWriter) throws {
        try c.sequence { s in
            try body.encode(into: &s)
            try oldSignature.encode(into: &s)
            try newSignature.encode(into: &s)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            KeyRotation(
                body: try Body(decoding: try r.node()), oldSignature: try Signature(decoding: try r.node()),
                newSignature: try Signature(decoding: try r.node()))
        }
    }
}
