public import Foundation
internal import LiaisonModel
public import SwiftASN1

/// A value with exactly one encoding: DER (X.690 distinguished rules) of the
/// ASN.1 structure given in `docs/protocol.md`. Decoding accepts only that
/// encoding: the DER parser enforces definite minimal lengths, minimal
/// integers, primitive strings and no trailing bytes; every field is read
/// with a strict type; and the few structures whose decoding normalises
/// (sorted lists in labels and reports) re-encode themselves and compare
/// with their input (``requireCanonical(_:_:)``). Tests check the whole
/// property: for every vector, decode then encode is the identity.
public protocol CanonicalValue: Sendable {
    /// Names the structure in errors and in the signing domain.
    static var structureName: String { get }
    func encode(into coder: inout DERWriter) throws
    init(decoding node: ASN1Node) throws
}

/// Objects larger than this are refused before parsing (a batch of 256
/// envelopes of 64 KiB fits well within it).
public let maximumObjectSize = 64 << 20

extension CanonicalValue {
    /// The canonical DER bytes.
    public var derBytes: [UInt8] {
        var s = DERWriter()
        // Encoding our own well-formed values cannot fail: every field is
        // bounded by construction.
        try! encode(into: &s)
        return s.bytes
    }

    /// Decodes the one accepted encoding of a value, refusing anything else
    /// with a specific error.
    public init(canonical bytes: some Collection<UInt8>) throws(SealingError) {
        let array = Array(bytes)
        guard array.count <= maximumObjectSize else {
            throw SealingError(.oversized, "\(Self.structureName) of \(array.count) bytes exceeds \(maximumObjectSize)")
        }
        do {
            let node = try DER.parse(array)
            self = try Self(decoding: node)
        } catch let e as SealingError {
            throw e
        } catch {
            throw SealingError(.malformed, "\(Self.structureName) is not valid DER: \(error)")
        }
    }

    /// Refuses a decoded value whose canonical encoding is not `node`'s
    /// bytes: for types whose decoding sorts or deduplicates.
    static func requireCanonical(_ value: Self, _ node: ASN1Node) throws {
        guard value.derBytes.elementsEqual(node.encodedBytes) else {
            throw SealingError(.nonCanonical, "\(structureName) is not in its canonical encoding (lists must be sorted and unique)")
        }
    }
}

/// The protocol version every top-level structure starts with.
public let protocolVersion = 1

/// Reads the fields of one SEQUENCE in order.
struct FieldReader {
    var nodes: ASN1NodeCollection.Iterator
    let structure: String

    func fail(_ why: String) -> SealingError { SealingError(.malformed, "\(structure): \(why)") }

    mutating func utf8() throws -> String {
        let s = try ASN1UTF8String(derEncoded: &nodes)
        guard let text = String(validating: s.bytes, as: UTF8.self) else { throw fail("a string is not valid UTF-8") }
        return text
    }
    mutating func octets(count: Int? = nil) throws -> [UInt8] {
        let o = try ASN1OctetString(derEncoded: &nodes)
        if let count, o.bytes.count != count { throw fail("expected \(count) bytes, found \(o.bytes.count)") }
        return Array(o.bytes)
    }
    mutating func integer(in range: ClosedRange<Int> = 0...Int.max) throws -> Int {
        let i = try Int(derEncoded: &nodes)
        guard range.contains(i) else { throw fail("integer \(i) out of range") }
        return i
    }
    mutating func enumerated(in range: ClosedRange<Int>) throws -> Int {
        let i = try Int(derEncoded: &nodes, withIdentifier: .enumerated)
        guard range.contains(i) else { throw fail("unknown enumerated value \(i)") }
        return i
    }
    mutating func party() throws -> Party {
        guard let node = nodes.next() else { throw fail("a party is missing") }
        guard node.identifier == .printableString, case .primitive(let bytes) = node.content,
            let p = Party(String(decoding: bytes, as: UTF8.self))
        else { throw fail("a party is a PrintableString of three capital letters") }
        return p
    }
    mutating func instant() throws -> Date {
        let ms = try Int64(derEncoded: &nodes)
        guard Instant.range.contains(ms) else { throw fail("an instant is outside the years 1 to 9999") }
        return Instant.date(ms)
    }
    mutating func version() throws {
        let v = try Int(derEncoded: &nodes)
        guard v == protocolVersion else {
            throw SealingError(.unknownVersion, "\(structure) version \(v) is not supported (this node speaks \(protocolVersion))")
        }
    }
    mutating func optional<T>(_ tag: UInt, _ body: (ASN1Node) throws -> T) throws -> T? {
        try DER.optionalExplicitlyTagged(&nodes, tagNumber: tag, tagClass: .contextSpecific, body)
    }
    mutating func node() throws -> ASN1Node {
        guard let n = nodes.next() else { throw fail("a field is missing") }
        return n
    }
    mutating func sequence<T>(_ body: (inout FieldReader) throws -> T) throws -> T {
        try FieldReader.read(try node(), structure, body)
    }
    /// An audit path: one OCTET STRING of at most 64 hashes of 32 bytes.
    mutating func digestList() throws -> AuditPath {
        let o = try ASN1OctetString(derEncoded: &nodes)
        guard o.bytes.count % 32 == 0, o.bytes.count <= 64 * 32 else {
            throw fail("an audit path is at most 64 hashes of 32 bytes")
        }
        return AuditPath(flat: Array(o.bytes))
    }

    mutating func utf8List() throws -> [String] {
        try sequence { r in
            var out: [String] = []
            while r.hasMore { out.append(try r.utf8()) }
            return out
        }
    }
    var hasMore: Bool {
        var copy = nodes
        return copy.next() != nil
    }


    /// Reads `node` as a SEQUENCE whose every field `body` must consume.
    static func read<T>(_ node: ASN1Node, _ structure: String, _ body: (inout FieldReader) throws -> T) throws -> T {
        try DER.sequence(node, identifier: .sequence) { nodes in
            var r = FieldReader(nodes: nodes, structure: structure)
            let value = try body(&r)
            nodes = r.nodes
            return value
        }
    }
}

/// Instants on the wire: INTEGER milliseconds since the Unix epoch.
public enum Instant {
    /// The instants the protocol carries: 0001-01-01 to 9999-12-31, UTC.
    public static let range: ClosedRange<Int64> = -62_135_596_800_000...253_402_300_799_999

    /// Whether `d` is an instant the protocol can carry.
    public static func isRepresentable(_ d: Date) -> Bool {
        let v = (d.timeIntervalSince1970 * 1000).rounded()
        return v.isFinite && v >= Double(range.lowerBound) && v <= Double(range.upperBound)
    }

    /// `d` in milliseconds, clamped to ``range`` (callers check
    /// ``isRepresentable(_:)`` where input comes from outside).
    public static func milliseconds(_ d: Date) -> Int64 {
        let v = (d.timeIntervalSince1970 * 1000).rounded()
        guard v.isFinite else { return v > 0 ? range.upperBound : range.lowerBound }
        return Int64(min(max(v, Double(range.lowerBound)), Double(range.upperBound)))
    }
    public static func date(_ ms: Int64) -> Date { Date(timeIntervalSince1970: Double(ms) / 1000) }
    /// `d` rounded to what the wire carries.
    public static func normalized(_ d: Date) -> Date { date(milliseconds(d)) }
}

/// Lower-case hexadecimal.
public enum Hex {
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
    public static func decode(_ text: String) -> [UInt8]? {
        let u = Array(text.utf8)
        guard u.count % 2 == 0 else { return nil }
        func v(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let h = v(u[i]), let l = v(u[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }
}
