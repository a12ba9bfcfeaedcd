import Foundation
@testable import LiaisonHTTP
import LiaisonTesting
import Testing

/// The TAXII gateway's JSON reader, with Foundation's `JSONSerialization`
/// as the oracle: it reads what Foundation reads, as the same value, and
/// refuses what Foundation refuses — and, stricter on purpose, a key twice
/// in one object, a trailing comma and nesting deeper than 128, which
/// Foundation lets through.
@Suite("JSON reader") struct JSONValueTests {
    /// Foundation's sorted-key writing of what Foundation parsed: two texts
    /// with the same value give the same bytes.
    static func oracle(_ json: [UInt8]) throws -> Data {
        let parsed = try JSONSerialization.jsonObject(with: Data(json), options: [.fragmentsAllowed])
        return try JSONSerialization.data(withJSONObject: parsed, options: [.sortedKeys, .fragmentsAllowed])
    }

    static func text(_ json: [UInt8]) -> String { String(decoding: json, as: UTF8.self) }

    /// Random documents as Foundation writes them, with white space added between tokens.
    static func document(_ r: inout SplitMix) throws -> [UInt8] {
        let value = ["root": CompactJSONTests.value(&r, depth: 0), "more": CompactJSONTests.value(&r, depth: 1)]
        var out: [UInt8] = []
        var inString = false, escaped = false
        for b in Array(try JSONSerialization.data(withJSONObject: value)) {
            out.append(b)
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
            } else if b == UInt8(ascii: "\"") {
                inString = true
            } else if [UInt8(ascii: ","), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "{")].contains(b), Int.random(in: 0..<4, using: &r) == 0 {
                out.append([0x20, 0x09, 0x0A, 0x0D].randomElement(using: &r)!)
            }
        }
        return out
    }

    @Test func readsWhatFoundationReadsAsTheSameValue() throws {
        var r = SplitMix(seed: 8259)
        for _ in 0..<500 {
            let json = try Self.document(&r)
            let value = try JSONValue.parse(json)
            #expect(try Self.oracle(value.bytes) == Self.oracle(json), "\(Self.text(json))")
            // Written compactly and sorted, it reads back as the same value and writes the same bytes again.
            #expect(try JSONValue.parse(value.bytes).bytes == value.bytes)
        }
    }

    /// Every byte string a valid document turns into by a few random edits:
    /// accepted only if Foundation accepts it, then as the same value.
    @Test func aMutatedDocumentIsReadAsFoundationReadsItOrRefused() throws {
        var r = SplitMix(seed: 4627)
        let alphabet = Array("{}[]:,\"\\/ 0123456789-+.eEtrufalsn\u{1}é".utf8) + [0xC3, 0x80, 0xFF, 0xED, 0xA0]
        var accepted = 0, refused = 0
        for _ in 0..<4000 {
            var json = try Self.document(&r)
            for _ in 0..<Int.random(in: 1...3, using: &r) {
                let at = Int.random(in: 0..<json.count, using: &r)
                switch Int.random(in: 0..<3, using: &r) {
                case 0: json.remove(at: at)
                case 1: json.insert(alphabet.randomElement(using: &r)!, at: at)
                default: json[at] = alphabet.randomElement(using: &r)!
                }
            }
            let foundation = try? Self.oracle(json)
            switch Result(catching: { () throws(JSONValue.Unreadable) in try JSONValue.parse(json) }) {
            case .success(let value):
                accepted += 1
                #expect(foundation != nil, "accepted what Foundation refuses: \(Self.text(json))")
                if let foundation { #expect(try Self.oracle(value.bytes) == foundation, "\(Self.text(json))") }
            case .failure(let e):
                refused += 1
                if foundation != nil {
                    // Only the strictnesses beyond Foundation's: a key twice, or
                    // a closing bracket or brace right after a comma, where the error points.
                    #expect(e.description.contains("twice") || Self.closesAfterComma(json, e), "refused what Foundation reads: \(e) in \(Self.text(json))")
                }
            }
        }
        // Both outcomes were exercised.
        #expect(accepted > 200 && refused > 2000, "\(accepted) accepted, \(refused) refused")
    }

    /// Whether the error points at a `]` or `}` with only white space between it and a comma before.
    static func closesAfterComma(_ json: [UInt8], _ e: JSONValue.Unreadable) -> Bool {
        guard let at = e.description.split(separator: " ").last.flatMap({ Int($0) }), at < json.count,
            json[at] == UInt8(ascii: "]") || json[at] == UInt8(ascii: "}")
        else { return false }
        return json[..<at].last { ![0x20, 0x09, 0x0A, 0x0D].contains($0) } == UInt8(ascii: ",")
    }

    @Test(arguments: [
        ("", "ends where a value should be"),
        ("   ", "ends where a value should be"),
        (#"{"a":1,}"#, "an object key should be a string"),
        ("[1,]", "unexpected character"),
        (#"{"a":1,"a":2}"#, #"the key "a" twice in one object at byte 7"#),
        (#"{"a":1}x"#, "text after the JSON value at byte 7"),
        (#"{"a":01}"#, "leading zero"),
        (#"{"a":1.}"#, "a decimal point needs digits"),
        (#"{"a":1e+}"#, "an exponent needs digits"),
        (#"{"a":-}"#, "a number needs a digit"),
        (#"{"a":NaN}"#, "unexpected character"),
        (#"{"a":tru}"#, "unexpected character"),
        (#"{"a":"\x"}"#, "an unknown escape at byte 7"),
        (#"{"a":"\u12"}"#, "four hexadecimal digits"),
        (#"{"a":"\ud800"}"#, "a high surrogate without its low surrogate"),
        (#"{"a":"\ud800\u0041"}"#, "a high surrogate without its low surrogate"),
        (#"{"a":"\udc00"}"#, "a low surrogate without its high surrogate"),
        ("{\"a\":\"x\ty\"}", "a control character inside a string"),
        (#"{"a":"open"#, "the text ends inside a string"),
        (#"{"a":[1,2"#, "the text ends inside an array"),
        (#"{"a" 1}"#, "a colon should follow an object key"),
        (#"{a:1}"#, "an object key should be a string"),
        ("{\"a\":1}\u{0}", "text after the JSON value"),
        ("[1e309]", "a number beyond the range of a double at byte 1"),
        ("[-1.8e308]", "beyond the range of a double"),
        ("[" + String(repeating: "9", count: 400) + "]", "beyond the range of a double"),
        (#"["\ud800\ud800"]"#, "a high surrogate without its low surrogate"),
        (#"["\ud800\ue000"]"#, "a high surrogate without its low surrogate"),
        (#"["\ud800"#, "a high surrogate without its low surrogate"),
        (#"{"a":1,"\u0061":2}"#, #"the key "a" twice in one object at byte 7"#),
        ("{\"é\":1,\"e\u{301}\":2}", "twice in one object"),
        ("{\"K\":1,\"\u{212A}\":2}", "twice in one object"),
        (" \u{FEFF}{}", "unexpected character at byte 1"),
        ("\u{FEFF}", "ends where a value should be"),
        ("\u{B}[]", "unexpected character at byte 0"),
        ("[1,\u{A0}2]", "unexpected character at byte 3"),
    ])
    func refusesWhatIsNotJSONSayingWhatAndWhere(_ input: String, _ reason: String) {
        #expect(throws: JSONValue.Unreadable.self) { try JSONValue.parse(Array(input.utf8)) }
        do {
            _ = try JSONValue.parse(Array(input.utf8))
        } catch {
            #expect(error.description.contains(reason), "\(input): \(error)")
        }
    }

    @Test func refusesBytesThatAreNotUTF8() {
        // Overlong, stray, surrogate, cut short before the quote, above U+10FFFF.
        for bad: [UInt8] in [[0xC3, 0x28], [0xFF], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xF0, 0x9F, 0x9B], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF]] {
            let json = Array(#"{"a":"x"#.utf8) + bad + Array(#""}"#.utf8)
            #expect(throws: JSONValue.Unreadable(description: "bytes that are not UTF-8 in the string at byte 5")) { try JSONValue.parse(json) }
        }
        // Not UTF-8 in a string with an escape (a lead byte before one, a stray byte after one), and in a key.
        #expect(throws: JSONValue.Unreadable.self) { try JSONValue.parse(Array(#"{"a":"\n"#.utf8) + [0xFF] + Array(#""}"#.utf8)) }
        #expect(throws: JSONValue.Unreadable.self) { try JSONValue.parse(Array(#"{"a":""#.utf8) + [0xC3] + Array(#"\u00a9"}"#.utf8)) }
        #expect(throws: JSONValue.Unreadable.self) { try JSONValue.parse(Array(#"{"a":"\u00a9"#.utf8) + [0xA9] + Array(#""}"#.utf8)) }
        #expect(throws: JSONValue.Unreadable.self) { try JSONValue.parse(Array(#"{""#.utf8) + [0xC0, 0xAF] + Array(#"":1}"#.utf8)) }
        // A UTF-16 body, which Foundation would have read: refused at its first byte.
        let utf16: [UInt8] = [0xFF, 0xFE] + Array(#"{"objects":[]}"#.utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        #expect(throws: JSONValue.Unreadable(description: "unexpected character at byte 0")) { try JSONValue.parse(utf16) }
    }

    @Test func nestsAtMost128Deep() throws {
        let depth = JSONValue.maximumDepth
        #expect(depth == 128)
        let deepest = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(try JSONValue.parse(Array(deepest.utf8)).bytes == Array(deepest.utf8))
        let deeper = "[" + deepest + "]"
        #expect(throws: JSONValue.Unreadable(description: "containers nested deeper than 128 at byte 128")) { try JSONValue.parse(Array(deeper.utf8)) }
        let objects = String(repeating: #"{"a":"#, count: depth + 1) + "1" + String(repeating: "}", count: depth + 1)
        #expect(throws: JSONValue.Unreadable.self) { try JSONValue.parse(Array(objects.utf8)) }
        let fine = String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)
        #expect(try JSONValue.parse(Array(fine.utf8)).bytes == Array(fine.utf8))
    }

    @Test func readsAMillionValuesAndNoMore() throws {
        let most = Array(("[" + Array(repeating: "0", count: JSONValue.maximumValues - 1).joined(separator: ",") + "]").utf8)
        #expect(try JSONValue.parse(most).array?.count == JSONValue.maximumValues - 1)
        let more = Array(("[" + Array(repeating: "{}", count: JSONValue.maximumValues).joined(separator: ",") + "]").utf8)
        #expect(throws: JSONValue.Unreadable(description: "more than 1000000 values at byte \(more.count - 3)")) { try JSONValue.parse(more) }
    }

    @Test func decodesEscapesAndKeepsNumbersAsWritten() throws {
        let v = try JSONValue.parse(
            Array(#"{"s":"a\"b\\c\/d\n\u00e9\ud83d\udef0\u0000","n":[0,-0,1.50,1E+2,-1e-7,123456789012345678901234567890],"t":true,"f":false,"z":null}"#.utf8))
        #expect(v["s"]?.string == "a\"b\\c/d\né🛰\u{0}")
        #expect(try JSONValue.parse(Array(#"["\uDBFF\uDFFF\u00E9\u00e9"]"#.utf8)).strings == ["\u{10FFFF}éé"])
        #expect(v["n"] == .array(["0", "-0", "1.50", "1E+2", "-1e-7", "123456789012345678901234567890"].map(JSONValue.number)))
        #expect(v["t"] == .bool(true) && v["f"] == .bool(false) && v["z"] == .null && v["missing"] == nil)
        // Written as CompactJSON writes strings: only what JSON requires is escaped.
        #expect(Self.text(v.bytes) == #"{"f":false,"n":[0,-0,1.50,1E+2,-1e-7,123456789012345678901234567890],"s":"a\"b\\c/d\né🛰\u0000","t":true,"z":null}"#)
        #expect(try JSONValue.parse([0xEF, 0xBB, 0xBF] + Array("{}".utf8)) == .object([]))
        // A string read as it was (no escape) and one decoded are the same string, written alike.
        let same = try JSONValue.parse(Array(#"["plain é","pl\u0061in \u00e9"]"#.utf8))
        #expect(same.array?[0] == same.array?[1] && same.array?[0] == .string("plain é") && same.strings == ["plain é", "plain é"])
        #expect(Self.text(same.bytes) == #"["plain é","plain é"]"#)
        #expect(same.array?[0] != .string("plain e") && same.array?[0] != .number("1"))
        // As far as a double reaches, and long fractions and tiny numbers (which a double holds as 0) as written.
        let edge = try JSONValue.parse(Array("[1.7976931348623157e308,1e-400,0.\(String(repeating: "1", count: 400))]".utf8))
        #expect(edge.array?.count == 3 && edge.array?[1] == .number("1e-400"))
    }

    @Test func manyKeysAreCheckedForRepeatsToo() throws {
        let keys = (0..<40).map { "\"k\($0)\":\($0)" }
        #expect(try JSONValue.parse(Array(("{" + keys.joined(separator: ",") + "}").utf8)).members?.count == 40)
        // A repeat of an early key, of one past the first sixteen, and one written with an escape.
        for repeated in [#""k3":0"#, #""k39":0"#, #""k\u0033\u0039":0"#] {
            #expect(throws: JSONValue.Unreadable.self) { try JSONValue.parse(Array(("{" + keys.joined(separator: ",") + "," + repeated + "}").utf8)) }
        }
    }

    /// A string read as it was (no escape) is written as its bytes; that is
    /// what the writer makes of it too, so the two ways a string is kept
    /// write alike, whatever characters it holds.
    @Test func aStringReadAsItWasIsWrittenAsTheWriterWritesIt() throws {
        var r = SplitMix(seed: 7159)
        for _ in 0..<2000 {
            let s = CompactJSONTests.text(&r)
            var written: [UInt8] = []
            CompactJSON.string(s, into: &written)
            let value = try JSONValue.parse(Array("[".utf8) + written + Array("]".utf8))
            #expect(value.strings == [s])
            #expect(value.bytes == Array("[".utf8) + written + Array("]".utf8), "\(s.debugDescription)")
        }
    }

    @Test func settingAKeyReplacesItOrAddsIt() throws {
        let v = try JSONValue.parse(Array(#"{"b":1,"a":[2]}"#.utf8))
        #expect(Self.text(v.setting("a", to: .string("x")).bytes) == #"{"a":"x","b":1}"#)
        #expect(Self.text(v.setting("c", to: .null).bytes) == #"{"a":[2],"b":1,"c":null}"#)
        #expect(v["a"]?.strings == nil && JSONValue.array([.string("p"), .string("q")]).strings == ["p", "q"])
    }

    /// A UUID is 8-4-4-4-12 hexadecimal digits. Foundation on Linux reads
    /// a few more (its scanner takes a minus sign in a group:
    /// `-3E963C8-44B2-…`); STIX ids are RFC 4122 UUIDs, so those are not.
    @Test func uuidsAreHexadecimalDigitsInTheirGroups() throws {
        var r = SplitMix(seed: 4122)
        let digits = Array("0123456789abcdefABCDEFg-".utf8)
        let form = try Regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
        for i in 0..<3000 {
            var text = Array(UUID().uuidString.utf8)
            if i % 2 == 0 { text[Int.random(in: 0..<text.count, using: &r)] = digits.randomElement(using: &r)! }
            if i % 7 == 0 { text.removeLast() }
            let s = String(decoding: text, as: UTF8.self)
            #expect(TAXIIGateway.isUUID(s.utf8) == (s.wholeMatch(of: form) != nil), "\(s)")
            if TAXIIGateway.isUUID(s.utf8) { #expect(UUID(uuidString: s) != nil) }
        }
        #expect(TAXIIGateway.isUUID("3c1d5b7e-2a4f-5c8d-9e6f-7a8b9c0d1e2f".utf8) && !TAXIIGateway.isUUID("3c1d5b7e2a4f5c8d9e6f7a8b9c0d1e2f".utf8))
    }
}
