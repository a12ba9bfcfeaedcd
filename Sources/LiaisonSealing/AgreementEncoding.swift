internal import Crypto
internal import Foundation
public import LiaisonModel
public import SwiftASN1

/// The canonical encoding of an agreement, whose SHA-256 — the agreement
/// digest — every envelope and statement exchanged under it carries. Two
/// files that say the same thing (whatever their YAML layout or comments)
/// have the same digest.
public struct AgreementEncoding: Sendable, CanonicalValue {
    public static let structureName = "Agreement"
    public var agreement: Agreement
    public init(_ agreement: Agreement) { self.agreement = agreement }

    public func encode(into c: inout DER.Serializer) throws {
        let a = agreement
        try c.sequence { s in
            try s.integer(protocolVersion)
            try s.utf8(a.id)
            try s.utf8(a.title)
            try s.serialize(a.binding)
            try s.sequence { ps in
                for p in a.parties {
                    try ps.sequence { x in
                        try x.party(p.party)
                        try x.utf8(p.authority)
                        try x.sequence { sc in
                            try sc.party(p.scheme.party)
                            try sc.utf8(p.scheme.name)
                            try sc.sequence { ls in
                                for l in p.scheme.levels {
                                    try ls.sequence { y in
                                        try y.utf8(l.code); try y.utf8(l.marking); try y.utf8(l.romanization)
                                        try y.utf8(l.gloss); try y.integer(l.rank)
                                    }
                                }
                            }
                        }
                        try x.sequence { ts in
                            for t in p.trustAnchors { try ts.sequence { y in try y.utf8(t.kind); try y.utf8(t.fingerprint) } }
                        }
                    }
                }
            }
            try s.sequence { rs in
                for row in a.equivalence.rows {
                    try rs.sequence { x in
                        try x.utf8(row.tier)
                        try x.sequence { ls in
                            for (party, codes) in row.levels.sorted(by: { $0.key < $1.key }) {
                                try ls.sequence { y in try y.party(party); try y.utf8List(codes) }
                            }
                        }
                    }
                }
            }
            try s.sequence { t in
                try t.utf8(a.term.renewal.rawValue)
                try t.integer(a.term.years)
                try t.integer(a.term.noticePeriodDays)
                try t.utf8(a.term.timeZone.identifier)
            }
            try s.utf8(a.thirdPartyRule.rawValue)
            try s.sequence { ps in for p in a.purposes { try ps.sequence { y in try y.utf8(p.code); try y.utf8(p.description) } } }
            if let hub = a.hub {
                try s.optional(0) { h in
                    try h.sequence { y in
                        try y.party(hub.hub)
                        try y.sequence { rs in for r in hub.routes { try rs.sequence { z in try z.party(r.from); try z.party(r.to) } } }
                    }
                }
            }
            try s.utf8List(a.basedOn)
            try s.utf8(a.suite.rawValue)
        }
    }

    /// Agreements are read from their YAML files; the encoding is only
    /// produced, never parsed, so decoding is refused.
    public init(decoding node: ASN1Node) throws {
        throw SealingError(.malformed, "agreements are exchanged as documents, not decoded from DER")
    }
}

extension Agreement {
    /// SHA-256 of the canonical encoding: what envelopes carry.
    public var digest: [UInt8] { Array(SHA256.hash(data: AgreementEncoding(self).derBytes)) }
}
