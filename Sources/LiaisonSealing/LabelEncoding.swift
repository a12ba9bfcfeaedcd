internal import Foundation
public import LiaisonModel
public import SwiftASN1

/// The canonical encoding of a security label (DESIGN §2, STANAG 4774 in
/// spirit): releasability and category values sorted and unique, categories
/// sorted by tag.
public struct LabelDocument: Hashable, Sendable, CanonicalValue {
    public static let structureName = "SecurityLabel"
    public var label: SecurityLabel

    public init(_ label: SecurityLabel) { self.label = label }

    static func kindValue(_ k: LiaisonModel.Category.Kind) -> Int {
        switch k {
        case .permissive: 1
        case .restrictive: 2
        case .informative: 3
        }
    }

    public func encode(into c: inout DERWriter) {
        c.sequence { s in
            s.integer(protocolVersion)
            s.utf8(label.policy)
            s.party(label.originator)
            s.utf8(label.level)
            s.sequence { r in for p in label.releasableTo.sorted() { r.party(p) } }
            s.sequence { cs in
                for cat in label.categories.sorted(by: { $0.tag < $1.tag }) {
                    cs.sequence { x in
                        x.utf8(cat.tag)
                        x.enumerated(Self.kindValue(cat.kind))
                        x.utf8List(Array(Set(cat.values)).sorted())
                    }
                }
            }
            if let p = label.purpose { s.optional(0) { $0.utf8(p) } }
            s.instant(label.created)
            if let r = label.review { s.optional(1) { $0.instant(r) } }
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            let policy = try r.utf8()
            let originator = try r.party()
            let level = try r.utf8()
            // Lists must arrive sorted and unique: checked while reading, so
            // that decoding never normalises (one encoding per value).
            let releasable: [Party] = try r.sequence { x in
                var out: [Party] = []
                out.reserveCapacity(4)
                while x.hasMore {
                    let p = try x.party()
                    guard out.last.map({ $0 < p }) ?? true, p != originator else {
                        throw SealingError(.nonCanonical, "a label's releasability list is sorted, unique, and omits the originator")
                    }
                    out.append(p)
                }
                return out
            }
            let categories: [LiaisonModel.Category] = try r.sequence { cs in
                var out: [LiaisonModel.Category] = []
                while cs.hasMore {
                    out.append(
                        try cs.sequence { x in
                            let tag = try x.utf8()
                            let kind: LiaisonModel.Category.Kind = [.permissive, .restrictive, .informative][try x.enumerated(in: 1...3) - 1]
                            let values = try x.utf8List()
                            guard zip(values, values.dropFirst()).allSatisfy({ $0 < $1 }) else {
                                throw SealingError(.nonCanonical, "category \(tag): values are sorted and unique")
                            }
                            return LiaisonModel.Category(tag: tag, kind: kind, values: values)
                        })
                    guard out.count < 2 || out[out.count - 2].tag < out[out.count - 1].tag else {
                        throw SealingError(.nonCanonical, "a label's categories are sorted by tag, each tag once")
                    }
                }
                return out
            }
            let purpose = try r.optional(0) { n in try FieldReader.utf8(n) }
            let created = try r.instant()
            let review = try r.optional(1) { n in try FieldReader.instant(n) }
            do {
                let label = try SecurityLabel(
                    policy: policy, originator: originator, level: level, releasableTo: Set(releasable),
                    categories: categories, purpose: purpose, created: created, review: review)
                return LabelDocument(label)
            } catch let e as ModelError {
                throw SealingError(.invalidLabel, e.reason)
            }
        }
    }
}

extension LabelDocument {
    /// Labels decoded before, by their exact DER bytes. Items of one feed
    /// or batch carry the same label, and a node reads each item's manifest
    /// several times (to release it, to seal it, and at the receiver to
    /// check it); decoding depends only on the bytes, so the same bytes give
    /// the same label and skip the work. Only labels that decoded are kept
    /// (anything refused is refused again, with its reason, each time), and
    /// only labels of at most 4 KiB (real ones are a few hundred bytes),
    /// 512 of them at most, whatever a peer sends.
    private static let decoded = BoundedMemo<[UInt8], SecurityLabel>(limit: 512)

    /// The label of a `SecurityLabel` node, as ``init(decoding:)`` reads it.
    static func label(decoding node: ASN1Node) throws -> SecurityLabel {
        guard node.encodedBytes.count <= 4096 else { return try LabelDocument(decoding: node).label }
        let key = Array(node.encodedBytes)
        if let known = decoded[key] { return known }
        let label = try LabelDocument(decoding: node).label
        decoded.keep(label, for: key)
        return label
    }
}

extension FieldReader {
    /// A UTF8String node (the content of an explicit tag).
    static func utf8(_ node: ASN1Node) throws -> String {
        let s = try ASN1UTF8String(derEncoded: node)
        guard let text = String(validating: s.bytes, as: UTF8.self) else {
            throw SealingError(.malformed, "a string is not valid UTF-8")
        }
        return text
    }

    /// An instant node (the content of an explicit tag), in the years 1 to
    /// 9999 as every instant is: one outside them would decode and encode
    /// again as other (clamped) bytes.
    static func instant(_ node: ASN1Node) throws -> Date {
        let ms = try Int64(derEncoded: node)
        guard Instant.range.contains(ms) else { throw SealingError(.malformed, "an instant is outside the years 1 to 9999") }
        return Instant.date(ms)
    }
}
