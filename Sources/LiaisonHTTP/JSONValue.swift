internal import Foundation

/// A JSON value (RFC 8259) read from UTF-8 bytes: what the TAXII gateway
/// reads envelopes into and writes each object's stored form from.
///
/// Written here because Foundation's `JSONSerialization` builds bridged
/// dictionaries, arrays and `NSNumber`s that every later look-up casts back:
/// on the gateway's add path, reading an envelope that way, casting its
/// objects and freeing the tree was about a third of the server's CPU time,
/// and no listed package parses JSON into a tree of Swift values.
///
/// The reading is strict: one value, with nothing but white space after
/// it; no trailing commas, no comments, no bare control characters, no lone
/// surrogates, no invalid UTF-8, no number outside the grammar or beyond
/// a double's range; containers
/// at most ``maximumDepth`` deep; and no key twice in one object (readers
/// that keep the first and readers that keep the last would disagree about
/// what was posted) — twice as Swift compares strings, by canonical
/// equivalence, so `"é"` and `"e\u0301"` are one key, as they would be in
/// any dictionary the object is read into. Only UTF-8 is read (RFC 8259
/// §8.1): a UTF-16 or UTF-32 body is refused at its first byte. Numbers
/// keep the text they were written with, so nothing is rounded on the way
/// through.
enum JSONValue: Sendable, Equatable {
    /// Members in the order they were written; no two keys are equal strings.
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    /// A string as it was read, when it had no escape: its bytes are valid
    /// UTF-8 with no quote, backslash or control character, so they are
    /// also how it is written. Most of an object's text stays so, neither
    /// decoded into a `String` nor escaped again.
    case text(ArraySlice<UInt8>)
    /// The number's text, as written (it matches the JSON number grammar).
    case number(String)
    case bool(Bool)
    case null

    /// The same value: strings compared as strings (by canonical
    /// equivalence, whichever way each was read), numbers by their text,
    /// object members in order.
    static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.object(let x), .object(let y)):
            x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case (.array(let x), .array(let y)): x == y
        case (.string, .string), (.string, .text), (.text, .string), (.text, .text): a.string == b.string
        case (.number(let x), .number(let y)): x == y
        case (.bool(let x), .bool(let y)): x == y
        case (.null, .null): true
        default: false
        }
    }

    /// Containers nested deeper than this are refused. STIX objects nest a
    /// few levels; the bound keeps reading, writing and freeing a tree (all
    /// recursive) well inside any thread's stack, a debug build's 512 KiB
    /// among them.
    static let maximumDepth = 128

    /// Values in one text at most: a tree takes 40 bytes a value and more,
    /// so a 16 MiB body of `[{},{},…]` would otherwise take some 200 MB. An
    /// envelope of 10,000 STIX objects holds a few hundred thousand.
    static let maximumValues = 1_000_000

    struct Unreadable: Error, CustomStringConvertible, Equatable {
        /// What is wrong, and where: the byte offset into the text.
        let description: String
    }

    /// Reads one JSON text. A UTF-8 byte order mark before it is skipped (RFC 8259 §8.1).
    /// The value's strings without escapes are slices of one copy of `bytes`.
    static func parse(_ bytes: some Collection<UInt8>) throws(Unreadable) -> JSONValue {
        let source = Array(bytes)
        return try source.withUnsafeBufferPointer { buffer throws(Unreadable) in
            var reader = Reader(source: source, bytes: buffer)
            if buffer.starts(with: [0xEF, 0xBB, 0xBF]) { reader.at = 3 }
            reader.skipSpace()
            let value = try reader.value(depth: 0)
            reader.skipSpace()
            guard reader.at == buffer.count else { throw reader.error("text after the JSON value") }
            return value
        }
    }

    /// The value of a hexadecimal digit, either case (Hex.decode reads lower case only).
    static func hexDigit(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    // MARK: Looking inside

    subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    var string: String? {
        switch self {
        case .string(let s): s
        case .text(let t): String(decoding: t, as: UTF8.self)
        default: nil
        }
    }

    var array: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    var members: [(key: String, value: JSONValue)]? {
        if case .object(let m) = self { return m }
        return nil
    }

    /// The strings of an array of strings (nil if it is not one).
    var strings: [String]? {
        guard case .array(let a) = self else { return nil }
        var out: [String] = []
        out.reserveCapacity(a.count)
        for v in a {
            guard let s = v.string else { return nil }
            out.append(s)
        }
        return out
    }

    /// The object with `key` set to `value` (added if it was not there).
    func setting(_ key: String, to value: JSONValue) -> JSONValue {
        guard case .object(var members) = self else { return self }
        if let i = members.firstIndex(where: { $0.key == key }) {
            members[i].value = value
        } else {
            members.append((key, value))
        }
        return .object(members)
    }

    // MARK: Writing

    /// Compact UTF-8, object keys in byte order, strings escaped as
    /// ``CompactJSON`` escapes them, numbers as they were read.
    var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        write(into: &out)
        return out
    }

    func write(into out: inout [UInt8]) {
        switch self {
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            let sorted = members.count < 2 ? members : members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            for (i, m) in sorted.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                CompactJSON.string(m.key, into: &out)
                out.append(UInt8(ascii: ":"))
                m.value.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, e) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                e.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .string(let s): CompactJSON.string(s, into: &out)
        case .text(let t):
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: t)
            out.append(UInt8(ascii: "\""))
        case .number(let n): out.append(contentsOf: n.utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .null: out.append(contentsOf: "null".utf8)
        }
    }

    // MARK: Reading

    struct Reader {
        /// The text, and a pointer into it for reading.
        let source: [UInt8]
        let bytes: UnsafeBufferPointer<UInt8>
        var at = 0
        var values = 0

        func error(_ what: String) -> Unreadable { Unreadable(description: "\(what) at byte \(at)") }

        mutating func skipSpace() {
            while at < bytes.count {
                switch bytes[at] {
                case 0x20, 0x09, 0x0A, 0x0D: at += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) throws(Unreadable) -> JSONValue {
            guard at < bytes.count else { throw error("the text ends where a value should be") }
            values += 1
            guard values <= JSONValue.maximumValues else { throw error("more than \(JSONValue.maximumValues) values") }
            switch bytes[at] {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return try string()
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw error("unexpected character")
            }
        }

        mutating func literal(_ word: StaticString) throws(Unreadable) {
            let n = word.utf8CodeUnitCount
            guard at + n <= bytes.count, memcmp(bytes.baseAddress! + at, word.utf8Start, n) == 0 else { throw error("unexpected character") }
            at += n
        }

        mutating func object(depth: Int) throws(Unreadable) -> JSONValue {
            guard depth <= JSONValue.maximumDepth else { throw error("containers nested deeper than \(JSONValue.maximumDepth)") }
            at += 1
            var members: [(key: String, value: JSONValue)] = []
            var keys: Set<String>?
            skipSpace()
            if at < bytes.count, bytes[at] == UInt8(ascii: "}") {
                at += 1
                return .object(members)
            }
            while true {
                guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw error("an object key should be a string") }
                let keyAt = at
                guard let key = try string().string else { throw error("an object key should be a string") }
                // A few keys are compared one by one; more are kept in a set.
                if members.count < 16 {
                    if members.contains(where: { $0.key == key }) { throw twice(key, keyAt) }
                } else {
                    if keys == nil { keys = Set(members.map(\.key)) }
                    if !keys!.insert(key).inserted { throw twice(key, keyAt) }
                }
                skipSpace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw error("a colon should follow an object key") }
                at += 1
                skipSpace()
                members.append((key, try value(depth: depth)))
                skipSpace()
                guard at < bytes.count else { throw error("the text ends inside an object") }
                switch bytes[at] {
                case UInt8(ascii: ","):
                    at += 1
                    skipSpace()
                case UInt8(ascii: "}"):
                    at += 1
                    return .object(members)
                default: throw error("a comma or a closing brace should follow an object member")
                }
            }
        }

        func twice(_ key: String, _ at: Int) -> Unreadable {
            Unreadable(description: "the key \"\(String(key.unicodeScalars.prefix(60)))\" twice in one object at byte \(at)")
        }

        mutating func array(depth: Int) throws(Unreadable) -> JSONValue {
            guard depth <= JSONValue.maximumDepth else { throw error("containers nested deeper than \(JSONValue.maximumDepth)") }
            at += 1
            var elements: [JSONValue] = []
            skipSpace()
            if at < bytes.count, bytes[at] == UInt8(ascii: "]") {
                at += 1
                return .array(elements)
            }
            while true {
                elements.append(try value(depth: depth))
                skipSpace()
                guard at < bytes.count else { throw error("the text ends inside an array") }
                switch bytes[at] {
                case UInt8(ascii: ","):
                    at += 1
                    skipSpace()
                case UInt8(ascii: "]"):
                    at += 1
                    return .array(elements)
                default: throw error("a comma or a closing bracket should follow an array element")
                }
            }
        }

        /// A string from its opening quote: escapes decoded, UTF-8 checked.
        mutating func string() throws(Unreadable) -> JSONValue {
            at += 1
            let start = at
            // The common case: no escape, so the text is the bytes themselves
            // (checked as UTF-8 only if some byte is not ASCII).
            var ascii = true
            while at < bytes.count {
                let b = bytes[at]
                if b == UInt8(ascii: "\"") {
                    if !ascii { try validate(UnsafeBufferPointer(rebasing: bytes[start..<at]), from: start) }
                    at += 1
                    // No quote, backslash or control character, valid UTF-8:
                    // exactly the bytes ``CompactJSON/string(_:into:)`` writes for it.
                    return .text(source[start..<(at - 1)])
                }
                if b == UInt8(ascii: "\\") { break }
                if b < 0x20 { throw error("a control character inside a string") }
                if b >= 0x80 { ascii = false }
                at += 1
            }
            guard at < bytes.count else { throw error("the text ends inside a string") }
            var decoded = Array(UnsafeBufferPointer(rebasing: bytes[start..<at]))
            while at < bytes.count {
                let b = bytes[at]
                switch b {
                case UInt8(ascii: "\""):
                    at += 1
                    return .string(try decoded.withUnsafeBufferPointer { run throws(Unreadable) in try text(run, from: start) })
                case UInt8(ascii: "\\"):
                    try escape(into: &decoded)
                case 0..<0x20:
                    throw error("a control character inside a string")
                default:
                    decoded.append(b)
                    at += 1
                }
            }
            throw error("the text ends inside a string")
        }

        func text(_ run: UnsafeBufferPointer<UInt8>, from start: Int) throws(Unreadable) -> String {
            guard let s = String(validating: run, as: UTF8.self) else { throw notUTF8(start) }
            return s
        }

        /// Checks UTF-8 without making a string of it.
        func validate(_ run: UnsafeBufferPointer<UInt8>, from start: Int) throws(Unreadable) {
            if transcode(run.makeIterator(), from: UTF8.self, to: UTF32.self, stoppingOnError: true, into: { _ in }) { throw notUTF8(start) }
        }

        func notUTF8(_ start: Int) -> Unreadable { Unreadable(description: "bytes that are not UTF-8 in the string at byte \(start - 1)") }

        /// One escape, from its backslash, appended as UTF-8.
        mutating func escape(into out: inout [UInt8]) throws(Unreadable) {
            guard at + 1 < bytes.count else { throw error("the text ends inside an escape") }
            let c = bytes[at + 1]
            at += 2
            switch c {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(c)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard at + 1 < bytes.count, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") else {
                        throw error("a high surrogate without its low surrogate")
                    }
                    at += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw error("a high surrogate without its low surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw error("a low surrogate without its high surrogate")
                }
                UTF8.encode(Unicode.Scalar(scalar)!) { out.append($0) }
            default:
                at -= 1
                throw error("an unknown escape")
            }
        }

        mutating func hex4() throws(Unreadable) -> UInt32 {
            guard at + 4 <= bytes.count else { throw error("the text ends inside a \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                guard let d = JSONValue.hexDigit(bytes[at]) else { throw error("a \\u escape needs four hexadecimal digits") }
                v = v << 4 | UInt32(d)
                at += 1
            }
            return v
        }

        /// A number's text: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
        mutating func number() throws(Unreadable) -> String {
            let start = at
            func digits(_ r: inout Reader) -> Int {
                let s = r.at
                while r.at < r.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(r.bytes[r.at]) { r.at += 1 }
                return r.at - s
            }
            if bytes[at] == UInt8(ascii: "-") { at += 1 }
            guard at < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[at]) else { throw error("a number needs a digit") }
            if bytes[at] == UInt8(ascii: "0") {
                at += 1
                if at < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[at]) { throw error("a number with a leading zero") }
            } else {
                _ = digits(&self)
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
                at += 1
                guard digits(&self) > 0 else { throw error("a decimal point needs digits after it") }
            }
            var exponent = false
            if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
                at += 1
                if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
                guard digits(&self) > 0 else { throw error("an exponent needs digits") }
                exponent = true
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
            // Beyond a double's range is refused, as Foundation refuses it: a
            // number kept here is one every reader of the object can hold as a
            // double (one too small for a double's precision reads as 0). With
            // no exponent, 300 characters stay below 10^300, so only longer
            // numbers and exponents are converted to check.
            if exponent || at - start > 300, !(Double(text)?.isFinite ?? false) {
                throw Unreadable(description: "a number beyond the range of a double at byte \(start)")
            }
            return text
        }
    }
}
