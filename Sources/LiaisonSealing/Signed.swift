public import Foundation
public import LiaisonModel
public import SwiftASN1

/// The body of a signed statement: who signs it and when it was made.
public protocol StatementBody: CanonicalValue, Hashable {
    /// The party whose pinned key must have signed it.
    var signer: Party { get }
    /// The instant the signer's key must be valid at.
    var signedAt: Date { get }
}

/// A statement body with its signer's signature:
/// `SEQUENCE { body, signature }`, the signature covering the body's DER in
/// the domain of the body's structure name.
public struct Signed<Body: StatementBody>: Hashable, Sendable, CanonicalValue {
    public static var structureName: String { "Signed" + Body.structureName }
    public var body: Body
    public var signature: Signature

    public init(body: Body, signature: Signature) {
        self.body = body
        self.signature = signature
    }

    /// Signs `body` with `key`.
    public init(signing body: Body, with key: SigningKey) throws {
        self.body = body
        self.signature = try key.sign(body.derBytes, structure: Body.structureName)
    }

    public func encode(into c: inout DERWriter) throws {
        try c.sequence { s in
            try body.encode(into: &s)
            try signature.encode(into: &s)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            Signed(body: try Body(decoding: try r.node()), signature: try Signature(decoding: try r.node()))
        }
    }

    /// Checks the signature against the signer's pinned key valid at the
    /// statement's instant; returns the body only if it holds.
    public func verified(by trust: TrustStore) throws(SealingError) -> Body {
        let key = try trust.verifier(signature.keyID, of: body.signer, at: body.signedAt)
        try key.verify(signature, over: body.derBytes, structure: Body.structureName)
        return body
    }
}

// MARK: - Consent (Art 6(a))

/// The originator's consent for one holder to release one item to one third party.
public struct ConsentBody: StatementBody {
    public static let structureName = "Consent"
    public var consent: Consent
    public init(_ consent: Consent) { self.consent = consent }
    public var signer: Party { consent.originator }
    public var signedAt: Date { consent.issuedAt }

    public func encode(into c: inout DERWriter) throws {
        let k = consent
        guard let digest = Hex.decode(k.itemDigest), digest.count == 32 else {
            throw SealingError(.malformed, "a consent names an item by its 32-byte digest")
        }
        c.sequence { s in
            s.integer(protocolVersion)
            s.utf8(k.id)
            s.party(k.originator)
            s.octets(digest)
            s.party(k.holder)
            s.party(k.thirdParty)
            if let p = k.purpose { s.optional(0) { $0.utf8(p) } }
            s.instant(k.issuedAt)
            s.instant(k.expiresAt)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            let id = try r.utf8()
            let originator = try r.party()
            let digest = Hex.encode(try r.octets(count: 32))
            let holder = try r.party()
            let third = try r.party()
            let purpose = try r.optional(0) { n in try FieldReader.utf8(n) }
            let issued = try r.instant()
            let expires = try r.instant()
            guard issued < expires else { throw r.fail("a consent expires after it is issued") }
            return ConsentBody(
                Consent(
                    id: id, originator: originator, itemDigest: digest, holder: holder, thirdParty: third, purpose: purpose,
                    issuedAt: issued, expiresAt: expires))
        }
    }
}

// MARK: - Lifecycle statements (Art 21)

/// A lifecycle statement signed by the acting party.
public struct StatementDocument: StatementBody {
    public static let structureName = "LifecycleStatement"
    public var statement: LifecycleStatement
    public init(_ statement: LifecycleStatement) { self.statement = statement }
    public var signer: Party { statement.party }
    public var signedAt: Date { statement.at }

    static let acts = [
        "entry-into-force", "termination-notice", "notice-suspension", "suspension-lifted", "notice-withdrawal",
        "amendment", "mutual-termination",
    ]

    public func encode(into c: inout DERWriter) throws {
        let s = statement
        var effective: Date?, notice: String?, condition: String?, proposal: String?, summary: String?
        switch s.act {
        case .entryIntoForce: break
        case .terminationNotice(let e): effective = e
        case .noticeSuspension(let n, let cond): (notice, condition) = (n, cond)
        case .suspensionLifted(let n, let e): (notice, effective) = (n, e)
        case .noticeWithdrawal(let n): notice = n
        case .amendment(let p, let sm, let e): (proposal, summary, effective) = (p, sm, e)
        case .mutualTermination(let p, let e): (proposal, effective) = (p, e)
        }
        c.sequence { b in
            b.integer(protocolVersion)
            b.utf8(s.id)
            b.utf8(s.agreement)
            b.party(s.party)
            b.instant(s.at)
            b.enumerated(Self.acts.firstIndex(of: s.act.name)! + 1)
            if let effective { b.optional(0) { $0.instant(effective) } }
            if let notice { b.optional(1) { $0.utf8(notice) } }
            if let condition { b.optional(2) { $0.utf8(condition) } }
            if let proposal { b.optional(3) { $0.utf8(proposal) } }
            if let summary { b.optional(4) { $0.utf8(summary) } }
            if let note = s.note { b.optional(5) { $0.utf8(note) } }
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            let id = try r.utf8(), agreement = try r.utf8(), party = try r.party(), at = try r.instant()
            let act = try r.enumerated(in: 1...Self.acts.count)
            let effective = try r.optional(0) { n in try FieldReader.instant(n) }
            let notice = try r.optional(1) { n in try FieldReader.utf8(n) }
            let condition = try r.optional(2) { n in try FieldReader.utf8(n) }
            let proposal = try r.optional(3) { n in try FieldReader.utf8(n) }
            let summary = try r.optional(4) { n in try FieldReader.utf8(n) }
            let note = try r.optional(5) { n in try FieldReader.utf8(n) }
            func need<T>(_ v: T?, _ what: String) throws -> T {
                guard let v else { throw r.fail("\(Self.acts[act - 1]) needs \(what)") }
                return v
            }
            // Each act carries exactly its own fields: one a decoder would
            // ignore makes a second encoding of the same statement.
            let allowed: [Int: Set<String>] = [
                1: [], 2: ["effective"], 3: ["notice", "condition"], 4: ["notice", "effective"], 5: ["notice"],
                6: ["proposal", "summary", "effective"], 7: ["proposal", "effective"],
            ]
            let present = Set(
                [("effective", effective != nil), ("notice", notice != nil), ("condition", condition != nil),
                 ("proposal", proposal != nil), ("summary", summary != nil)].filter(\.1).map(\.0))
            if let extra = present.subtracting(allowed[act]!).sorted().first {
                throw r.fail("\(Self.acts[act - 1]) does not carry \(extra)")
            }
            let a: LifecycleStatement.Act
            switch act {
            case 1: a = .entryIntoForce
            case 2: a = .terminationNotice(effective: effective)
            case 3: a = .noticeSuspension(notice: try need(notice, "a notice"), condition: condition)
            case 4: a = .suspensionLifted(notice: try need(notice, "a notice"), effective: effective)
            case 5: a = .noticeWithdrawal(notice: try need(notice, "a notice"))
            case 6: a = .amendment(proposal: try need(proposal, "a proposal"), summary: try need(summary, "a summary"), effective: effective)
            default: a = .mutualTermination(proposal: try need(proposal, "a proposal"), effective: effective)
            }
            return StatementDocument(LifecycleStatement(id: id, agreement: agreement, party: party, at: at, act: a, note: note))
        }
    }
}

// MARK: - Reclassification (Art 6(g)), destruction (Art 6(h), 13), compromise (Art 17)

/// The originator's written notice that an item's level changed.
public struct ReclassificationNotice: StatementBody {
    public static let structureName = "ReclassificationNotice"
    public var id: String
    public var originator: Party
    public var itemDigest: [UInt8]
    public var oldLevel: String
    public var newLevel: String
    public var at: Date
    public var reason: String
    public var signer: Party { originator }
    public var signedAt: Date { at }

    public init(id: String, originator: Party, itemDigest: [UInt8], oldLevel: String, newLevel: String, at: Date, reason: String) {
        (self.id, self.originator, self.itemDigest, self.oldLevel, self.newLevel, self.at, self.reason) =
            (id, originator, itemDigest, oldLevel, newLevel, at, reason)
    }

    public func encode(into c: inout DERWriter) throws {
        c.sequence { s in
            s.integer(protocolVersion); s.utf8(id); s.party(originator); s.octets(itemDigest)
            s.utf8(oldLevel); s.utf8(newLevel); s.instant(at); s.utf8(reason)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            return ReclassificationNotice(
                id: try r.utf8(), originator: try r.party(), itemDigest: try r.octets(count: 32), oldLevel: try r.utf8(),
                newLevel: try r.utf8(), at: try r.instant(), reason: try r.utf8())
        }
    }
}

/// The originator's request that a holder destroy (or return) an item.
public struct DestructionRequest: StatementBody {
    public static let structureName = "DestructionRequest"
    public var id: String
    public var originator: Party
    public var holder: Party
    public var itemDigest: [UInt8]
    public var at: Date
    public var reason: String
    public var signer: Party { originator }
    public var signedAt: Date { at }

    public init(id: String, originator: Party, holder: Party, itemDigest: [UInt8], at: Date, reason: String) {
        (self.id, self.originator, self.holder, self.itemDigest, self.at, self.reason) = (id, originator, holder, itemDigest, at, reason)
    }

    public func encode(into c: inout DERWriter) throws {
        c.sequence { s in
            s.integer(protocolVersion); s.utf8(id); s.party(originator); s.party(holder)
            s.octets(itemDigest); s.instant(at); s.utf8(reason)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            return DestructionRequest(
                id: try r.utf8(), originator: try r.party(), holder: try r.party(), itemDigest: try r.octets(count: 32),
                at: try r.instant(), reason: try r.utf8())
        }
    }
}

/// The holder's certificate that an item was destroyed (Art 13).
public struct DestructionCertificate: StatementBody {
    public static let structureName = "DestructionCertificate"
    public var id: String
    public var request: String
    public var holder: Party
    public var originator: Party
    public var itemDigest: [UInt8]
    public var destroyedAt: Date
    public var method: String
    public var signer: Party { holder }
    public var signedAt: Date { destroyedAt }

    public init(id: String, request: String, holder: Party, originator: Party, itemDigest: [UInt8], destroyedAt: Date, method: String) {
        (self.id, self.request, self.holder, self.originator, self.itemDigest, self.destroyedAt, self.method) =
            (id, request, holder, originator, itemDigest, destroyedAt, method)
    }

    public func encode(into c: inout DERWriter) throws {
        c.sequence { s in
            s.integer(protocolVersion); s.utf8(id); s.utf8(request); s.party(holder); s.party(originator)
            s.octets(itemDigest); s.instant(destroyedAt); s.utf8(method)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            return DestructionCertificate(
                id: try r.utf8(), request: try r.utf8(), holder: try r.party(), originator: try r.party(),
                itemDigest: try r.octets(count: 32), destroyedAt: try r.instant(), method: try r.utf8())
        }
    }
}

/// A loss or compromise report (Art 17): immediate notice to the originator,
/// then investigation, findings and the measures taken.
public struct CompromiseReport: StatementBody {
    public static let structureName = "CompromiseReport"
    public enum Stage: Int, Hashable, Sendable, CaseIterable {
        case suspected = 1, investigating, findings, measures
    }
    public var id: String
    public var reporter: Party
    public var originator: Party
    public var itemDigests: [[UInt8]]
    public var stage: Stage
    public var at: Date
    public var description: String
    public var signer: Party { reporter }
    public var signedAt: Date { at }

    public init(id: String, reporter: Party, originator: Party, itemDigests: [[UInt8]], stage: Stage, at: Date, description: String) {
        (self.id, self.reporter, self.originator, self.itemDigests, self.stage, self.at, self.description) =
            (id, reporter, originator, itemDigests, stage, at, description)
    }

    public func encode(into c: inout DERWriter) throws {
        c.sequence { s in
            s.integer(protocolVersion); s.utf8(id); s.party(reporter); s.party(originator)
            s.sequence { d in for x in itemDigests.sorted(by: { $0.lexicographicallyPrecedes($1) }) { d.octets(x) } }
            s.enumerated(stage.rawValue); s.instant(at); s.utf8(description)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            let id = try r.utf8(), reporter = try r.party(), originator = try r.party()
            let digests: [[UInt8]] = try r.sequence { d in
                var out: [[UInt8]] = []
                while d.hasMore { out.append(try d.octets(count: 32)) }
                return out
            }
            guard !digests.isEmpty else { throw r.fail("a report names at least one item") }
            let stage = Stage(rawValue: try r.enumerated(in: 1...4))!
            let report = CompromiseReport(
                id: id, reporter: reporter, originator: originator, itemDigests: digests, stage: stage, at: try r.instant(),
                description: try r.utf8())
            try Self.requireCanonical(report, node)
            return report
        }
    }
}

// MARK: - Tree heads and receipts (RFC 9162)

/// A node's ledger tree head: size and root at an instant.
public struct TreeHead: StatementBody {
    public static let structureName = "TreeHead"
    public var party: Party
    public var size: Int
    public var root: [UInt8]
    public var at: Date
    public var signer: Party { party }
    public var signedAt: Date { at }

    public init(party: Party, size: Int, root: [UInt8], at: Date) {
        (self.party, self.size, self.root, self.at) = (party, size, root, at)
    }

    public func encode(into c: inout DERWriter) throws {
        c.sequence { s in
            s.integer(protocolVersion); s.party(party); s.integer(size); s.octets(root); s.instant(at)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            return TreeHead(party: try r.party(), size: try r.integer(), root: try r.octets(count: 32), at: try r.instant())
        }
    }
}

public typealias SignedTreeHead = Signed<TreeHead>

/// A delivery receipt: the receiver's signed tree head and the inclusion
/// proof of the ledger entry recording the receipt. Everything in it is
/// covered by the receiver's signature or by the inclusion proof: who sent
/// what is read from the entry itself.
public struct DeliveryReceipt: Hashable, Sendable, CanonicalValue {
    public static let structureName = "DeliveryReceipt"
    public var receiver: Party
    /// The receiver's ledger leaf (its entry bytes).
    public var entry: [UInt8]
    public var leafIndex: Int
    public var path: AuditPath
    public var treeHead: SignedTreeHead

    public init(receiver: Party, entry: [UInt8], leafIndex: Int, path: AuditPath, treeHead: SignedTreeHead) {
        (self.receiver, self.entry, self.leafIndex, self.path, self.treeHead) = (receiver, entry, leafIndex, path, treeHead)
    }

    public func encode(into c: inout DERWriter) throws {
        try c.sequence { s in
            s.integer(protocolVersion); s.party(receiver); s.octets(entry)
            s.integer(leafIndex)
            s.path(path)
            try treeHead.encode(into: &s)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            let receiver = try r.party(), entry = try r.octets(), index = try r.integer()
            let path = try r.digestList()
            return DeliveryReceipt(
                receiver: receiver, entry: entry, leafIndex: index, path: path,
                treeHead: try SignedTreeHead(decoding: try r.node()))
        }
    }

    /// Verifies the tree head's signature by the receiver's pinned key and
    /// the entry's inclusion in it.
    public func verify(trust: TrustStore) throws(SealingError) {
        let head = try treeHead.verified(by: trust)
        guard head.party == receiver else {
            throw SealingError(.wrongSigner, "the receipt's tree head is \(head.party)'s, not the receiver \(receiver)'s")
        }
        guard MerkleHash.root(fromLeaf: MerkleHash.leaf(entry), index: leafIndex, size: head.size, path: path) == head.root else {
            throw SealingError(.batchPathInvalid, "the receipt's entry is not included in the receiver's tree head")
        }
    }
}

// MARK: - Consent requests (Art 6(a))

/// What a consent request or denial may say: ids are identifiers (they
/// appear in paths and forms), texts are bounded in bytes as the stores
/// bound them.
enum ConsentText {
    static func check(id: String, _ field: String, _ r: FieldReader) throws {
        guard Identifier.isValid(id) else { throw r.fail("\(field) is not an identifier: \(Identifier.rule)") }
    }
    static func check(text: String, max: Int, _ field: String, _ r: FieldReader) throws {
        guard (1...max).contains(text.utf8.count) else { throw r.fail("\(field) is 1 to \(max) bytes") }
    }
}

/// A holder's request that the originator consent to its passing an item
/// to a third party (Art 6(a)), signed by the holder.
public struct ConsentRequestBody: StatementBody {
    public static let structureName = "ConsentRequest"
    public var id: String
    public var holder: Party
    public var originator: Party
    public var itemDigest: [UInt8]
    public var thirdParty: Party
    public var purpose: String?
    public var at: Date
    public var reason: String
    public var signer: Party { holder }
    public var signedAt: Date { at }

    public init(id: String, holder: Party, originator: Party, itemDigest: [UInt8], thirdParty: Party, purpose: String?, at: Date, reason: String) {
        (self.id, self.holder, self.originator, self.itemDigest, self.thirdParty) = (id, holder, originator, itemDigest, thirdParty)
        (self.purpose, self.at, self.reason) = (purpose, at, reason)
    }

    public func encode(into c: inout DERWriter) throws {
        c.sequence { s in
            s.integer(protocolVersion); s.utf8(id); s.party(holder); s.party(originator); s.octets(itemDigest); s.party(thirdParty)
            if let p = purpose { s.optional(0) { $0.utf8(p) } }
            s.instant(at); s.utf8(reason)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            let body = ConsentRequestBody(
                id: try r.utf8(), holder: try r.party(), originator: try r.party(), itemDigest: try r.octets(count: 32), thirdParty: try r.party(),
                purpose: try r.optional(0) { n in try FieldReader.utf8(n) }, at: try r.instant(), reason: try r.utf8())
            guard body.holder != body.originator, body.thirdParty != body.holder, body.thirdParty != body.originator else {
                throw r.fail("a consent request names a holder, an originator and a third party, three parties")
            }
            try ConsentText.check(id: body.id, "the request's id", r)
            try ConsentText.check(text: body.reason, max: 2000, "the reason", r)
            if let p = body.purpose { try ConsentText.check(text: p, max: 200, "the purpose", r) }
            return body
        }
    }
}

/// The originator's refusal of a holder's consent request (Art 6(a)),
/// signed by the originator.
public struct ConsentDenialBody: StatementBody {
    public static let structureName = "ConsentDenial"
    public var id: String
    /// The request refused.
    public var request: String
    public var originator: Party
    public var holder: Party
    public var itemDigest: [UInt8]
    public var thirdParty: Party
    public var at: Date
    public var reason: String
    public var signer: Party { originator }
    public var signedAt: Date { at }

    public init(id: String, request: String, originator: Party, holder: Party, itemDigest: [UInt8], thirdParty: Party, at: Date, reason: String) {
        (self.id, self.request, self.originator, self.holder, self.itemDigest) = (id, request, originator, holder, itemDigest)
        (self.thirdParty, self.at, self.reason) = (thirdParty, at, reason)
    }

    public func encode(into c: inout DERWriter) throws {
        c.sequence { s in
            s.integer(protocolVersion); s.utf8(id); s.utf8(request); s.party(originator); s.party(holder); s.octets(itemDigest)
            s.party(thirdParty); s.instant(at); s.utf8(reason)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            let body = ConsentDenialBody(
                id: try r.utf8(), request: try r.utf8(), originator: try r.party(), holder: try r.party(), itemDigest: try r.octets(count: 32),
                thirdParty: try r.party(), at: try r.instant(), reason: try r.utf8())
            try ConsentText.check(id: body.id, "the denial's id", r)
            try ConsentText.check(id: body.request, "the request's id", r)
            try ConsentText.check(text: body.reason, max: 2000, "the reason", r)
            return body
        }
    }
}
