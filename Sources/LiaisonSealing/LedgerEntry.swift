public import Foundation
public import LiaisonModel
public import SwiftASN1

/// One act recorded in a node's ledger (DESIGN §2): digests and metadata,
/// never plaintext. Its DER is the ledger leaf.
public struct LedgerEntry: Hashable, Sendable, CanonicalValue {
    public static let structureName = "LedgerEntry"

    public enum Kind: Int, Hashable, Sendable, CaseIterable {
        case itemSealed = 1, itemSent, itemReceived, itemRefused, itemRead, accessRefused, consentGiven, consentUsed
        case reclassified, destroyed, compromiseReported, lifecycleStatement, peerAlarm, receiptStored
        /// A user created, granted, disabled, given a password, or locked out; a login.
        case userChanged, signedIn
        /// A holder asked the originator to consent to passing an item on (Art 6(a)); the originator refused.
        case consentRequested, consentDenied
    }

    public var kind: Kind
    public var at: Date
    /// The other party of the act, if any (the peer sent to or received from).
    public var party: Party?
    /// Digests the act is about (items, envelopes, statements).
    public var subjects: [[UInt8]]
    /// Metadata: a reason, an article, a user name — never content.
    public var detail: String

    public init(kind: Kind, at: Date, party: Party? = nil, subjects: [[UInt8]] = [], detail: String = "") {
        self.kind = kind
        self.at = Instant.normalized(at)
        self.party = party
        self.subjects = subjects
        self.detail = detail
    }

    public func encode(into c: inout DERWriter) throws {
        c.sequence { s in
            s.integer(protocolVersion)
            s.enumerated(kind.rawValue)
            s.instant(at)
            if let party { s.optional(0) { $0.party(party) } }
            s.sequence { d in for x in subjects { d.octets(x) } }
            s.utf8(detail)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            let kind = Kind(rawValue: try r.enumerated(in: 1...Kind.allCases.count))!
            let at = try r.instant()
            let party = try r.optional(0) { n -> Party in
                guard case .primitive(let bytes) = n.content, let p = Party(String(decoding: bytes, as: UTF8.self)) else {
                    throw SealingError(.malformed, "LedgerEntry: the party is not a party code")
                }
                return p
            }
            let subjects: [[UInt8]] = try r.sequence { d in
                var out: [[UInt8]] = []
                while d.hasMore {
                    guard out.count < 1024 else { throw d.fail("an entry names at most 1,024 subjects") }
                    out.append(try d.octets(count: 32))
                }
                return out
            }
            return LedgerEntry(kind: kind, at: at, party: party, subjects: subjects, detail: try r.utf8())
        }
    }

    /// The canonical encoding, written directly: a ledger append encodes
    /// every entry, and for an entry this small the general ``DERWriter``'s
    /// bookkeeping costs more than the bytes. The same bytes as
    /// ``encode(into:)`` (the tests compare the two).
    public var derBytes: [UInt8] {
        let ms = Instant.milliseconds(at)
        let code = party.map { Array($0.code.utf8) }
        let text = Array(detail.utf8)
        var subjectsLength = 0
        for x in subjects { subjectsLength += DERWriter.encodedLength(x.count) }
        let partyLength = code.map { DERWriter.encodedLength(DERWriter.encodedLength($0.count)) } ?? 0
        let content =
            DERWriter.encodedLength(DERWriter.integerLength(Int64(protocolVersion)))
            + DERWriter.encodedLength(DERWriter.integerLength(Int64(kind.rawValue)))
            + DERWriter.encodedLength(DERWriter.integerLength(ms)) + partyLength + DERWriter.encodedLength(subjectsLength)
            + DERWriter.encodedLength(text.count)
        var out: [UInt8] = []
        out.reserveCapacity(DERWriter.encodedLength(content))
        DERWriter.appendHeader(0x30, content, to: &out)
        DERWriter.appendInteger(0x02, Int64(protocolVersion), to: &out)
        DERWriter.appendInteger(0x0A, Int64(kind.rawValue), to: &out)
        DERWriter.appendInteger(0x02, ms, to: &out)
        if let code {
            DERWriter.appendHeader(0xA0, DERWriter.encodedLength(code.count), to: &out)
            DERWriter.appendHeader(0x13, code.count, to: &out)
            out.append(contentsOf: code)
        }
        DERWriter.appendHeader(0x30, subjectsLength, to: &out)
        for x in subjects {
            DERWriter.appendHeader(0x04, x.count, to: &out)
            out.append(contentsOf: x)
        }
        DERWriter.appendHeader(0x0C, text.count, to: &out)
        out.append(contentsOf: text)
        return out
    }

    /// RFC 9162 leaf hash of the entry.
    public var leafHash: [UInt8] { MerkleHash.leaf(derBytes) }
}
