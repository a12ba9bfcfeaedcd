import Foundation
@testable import LiaisonHTTP
import LiaisonTesting
import Testing

/// The TAXII gateway's JSON writer, with Foundation's `JSONSerialization`
/// as the oracle: what it writes reads back as the same value.
@Suite("Compact JSON writer") struct CompactJSONTests {
    static let alphabet: [Character] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{1}", "\u{1F}", "\u{7F}", "é", "秘", "🛰", "\u{2028}"]

    static func text(_ r: inout SplitMix) -> String {
        String((0..<Int.random(in: 0...12, using: &r)).map { _ in alphabet.randomElement(using: &r)! })
    }

    static func value(_ r: inout SplitMix, depth: Int) -> Any {
        switch Int.random(in: depth > 3 ? 0...5 : 0...7, using: &r) {
        case 0: return text(&r)
        case 1: return Int.random(in: Int.min...Int.max, using: &r)
        case 2: return Double.random(in: -1e20...1e20, using: &r)
        case 3: return Bool.random(using: &r)
        case 4: return NSNull()
        case 5: return [0, 1, -1, 1e15, 0.5, 1e-7].randomElement(using: &r)!
        case 6: return (0..<Int.random(in: 0...4, using: &r)).map { _ in value(&r, depth: depth + 1) }
        default:
            var d: [String: Any] = [:]
            for _ in 0..<Int.random(in: 0...5, using: &r) { d[text(&r)] = value(&r, depth: depth + 1) }
            return d
        }
    }

    /// The oracle's reading of a value: Foundation's sorted-key writing of what Foundation parsed.
    static func oracle(_ json: [UInt8]) throws -> Data {
        let parsed = try JSONSerialization.jsonObject(with: Data(json), options: [.fragmentsAllowed])
        return try JSONSerialization.data(withJSONObject: parsed, options: [.sortedKeys, .fragmentsAllowed])
    }

    @Test func whatItWritesReadsBackAsTheSameValue() throws {
        var r = SplitMix(seed: 4774)
        for _ in 0..<500 {
            let v = ["root": Self.value(&r, depth: 0)]
            let written = try CompactJSON.bytes(v)
            let foundation = Array(try JSONSerialization.data(withJSONObject: v, options: [.sortedKeys]))
            #expect(try Self.oracle(written) == Self.oracle(foundation), "\(String(decoding: written, as: UTF8.self))")
        }
    }

    @Test func booleansStayBooleansAndNumbersStayNumbers() throws {
        let parsed = try JSONSerialization.jsonObject(with: Data(#"{"t":true,"f":false,"one":1,"zero":0,"big":18446744073709551615,"neg":-42,"half":0.5,"two":2.0}"#.utf8))
        #expect(
            String(decoding: try CompactJSON.bytes(parsed), as: UTF8.self)
                == #"{"big":18446744073709551615,"f":false,"half":0.5,"neg":-42,"one":1,"t":true,"two":2,"zero":0}"#)
        let swift: [String: Any] = ["t": true, "one": 1, "d": 2.25]
        #expect(String(decoding: try CompactJSON.bytes(swift), as: UTF8.self) == #"{"d":2.25,"one":1,"t":true}"#)
    }

    @Test func stringsAreEscapedAsJSONRequiresAndNoMore() throws {
        let s = "a\"b\\c/d\ne\u{1}f\u{1F}g\u{7F}秘"
        #expect(String(decoding: try CompactJSON.bytes([s]), as: UTF8.self) == "[\"a\\\"b\\\\c/d\\ne\\u0001f\\u001fg\u{7F}秘\"]")
        // Keys in byte order: upper case before lower case, ASCII before the rest.
        #expect(String(decoding: try CompactJSON.bytes(["b": 1, "B": 2, "é": 3, "a": 4]), as: UTF8.self) == #"{"B":2,"a":4,"b":1,"é":3}"#)
    }

    @Test func whatIsNotJSONIsRefused() throws {
        #expect(throws: CompactJSON.Unwritable.self) { try CompactJSON.bytes(["when": Date()]) }
        #expect(throws: CompactJSON.Unwritable.self) { try CompactJSON.bytes([Double.nan]) }
        #expect(throws: CompactJSON.Unwritable.self) { try CompactJSON.bytes([Double.infinity]) }
        // As deep as the parser reads, and no deeper.
        var deep: Any = [Any]()
        for _ in 1..<CompactJSON.maximumDepth { deep = [deep] }
        #expect(try CompactJSON.bytes(deep).count == 2 * CompactJSON.maximumDepth)
        #expect(throws: CompactJSON.Unwritable.self) { try CompactJSON.bytes([deep]) }
    }

    /// Numbers the parser cannot hold in a Double or an Int64 exactly (it
    /// keeps them as decimals) are written as they were posted, not rounded.
    @Test func longNumbersAreWrittenAsRead() throws {
        let text = #"{"a":-1234567890123456789,"b":0.12345678901234567890,"c":123456789012345678901234567890,"d":-9223372036854775808}"#
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8))
        let written = String(decoding: try CompactJSON.bytes(parsed), as: UTF8.self)
        for number in ["-1234567890123456789", "0.1234567890123456789", "123456789012345678901234567890", "-9223372036854775808"] {
            #expect(written.contains(":\(number)"), "\(written)")
        }
    }
}

/// The gateway's name-based ids: the same name always gives the same id,
/// kept or made afresh, and different names different ids, each an RFC 4122
/// UUID of version 5 bits.
@Suite("TAXII name-based ids") struct TAXIINameIDTests {
    @Test func aNameAlwaysGivesItsOneID() {
        let names = (0..<50).map { "collection/gsomia-kor-jpn-2016/\($0)" }
        let first = names.map(TAXIIGateway.uuid)
        #expect(names.map(TAXIIGateway.uuid) == first)
        #expect(first == names.map(TAXIIGateway.makeUUID))
        #expect(Set(first).count == names.count)
        for id in first {
            let u = UUID(uuidString: id)
            #expect(u != nil && id == id.lowercased())
            #expect(Array(id)[14] == "5" && "89ab".contains(Array(id)[19]), "\(id)")
        }
    }
}
