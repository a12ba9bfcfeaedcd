internal import Foundation

/// Writes a JSON value tree — what `JSONSerialization.jsonObject` returns,
/// or dictionaries and arrays of Swift strings, numbers and booleans — as
/// compact UTF-8 with object keys in byte order and `/` unescaped.
///
/// Written here because `JSONSerialization.data(withJSONObject:options:)`
/// with `.sortedKeys` compares keys as `NSString`s under a locale on Linux:
/// on the TAXII gateway's add path it was more than half of an envelope's
/// CPU time, and no listed package writes untyped JSON. Typed values go
/// through `JSONEncoder` as before.
enum CompactJSON {
    struct Unwritable: Error, CustomStringConvertible {
        let description: String
    }

    static func bytes(_ value: Any) throws(Unwritable) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        try write(value, into: &out, depth: 0)
        return out
    }

    /// Containers nested deeper than this are refused rather than written (the parser's own limit is 512).
    static let maximumDepth = 512

    static func write(_ value: Any, into out: inout [UInt8], depth: Int) throws(Unwritable) {
        switch value {
        case let s as String:
            string(s, into: &out)
        case let v as JSONValue:
            // Read within ``JSONValue/maximumDepth``, so written here without a further check.
            v.write(into: &out)
        case let d as [String: Any]:
            guard depth < maximumDepth else { throw Unwritable(description: "nested deeper than \(maximumDepth)") }
            out.append(UInt8(ascii: "{"))
            var first = true
            for key in d.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                string(key, into: &out)
                out.append(UInt8(ascii: ":"))
                try write(d[key]!, into: &out, depth: depth + 1)
            }
            out.append(UInt8(ascii: "}"))
        case let a as [Any]:
            guard depth < maximumDepth else { throw Unwritable(description: "nested deeper than \(maximumDepth)") }
            out.append(UInt8(ascii: "["))
            for (i, element) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                try write(element, into: &out, depth: depth + 1)
            }
            out.append(UInt8(ascii: "]"))
        case is NSNull:
            out.append(contentsOf: "null".utf8)
        case let n as NSDecimalNumber:
            // What the parser makes of a number too long for a Double or an
            // Int64 (more than 17 characters): written as read, not rounded.
            guard n != NSDecimalNumber.notANumber else { throw Unwritable(description: "a number that is not a number") }
            out.append(contentsOf: n.description.utf8)
        case let n as NSNumber:
            try number(n, into: &out)
        default:
            throw Unwritable(description: "not a JSON value: \(type(of: value))")
        }
    }

    /// Numbers, booleans among them: Swift's `Bool`, `Int` and `Double`
    /// arrive bridged, and the parser's booleans are `NSNumber`s of type `c`.
    static func number(_ n: NSNumber, into out: inout [UInt8]) throws(Unwritable) {
        switch n.objCType.pointee {
        case CChar(UInt8(ascii: "c")), CChar(UInt8(ascii: "B")):
            out.append(contentsOf: (n.boolValue ? "true" : "false").utf8)
        case CChar(UInt8(ascii: "d")), CChar(UInt8(ascii: "f")):
            let d = n.doubleValue
            guard d.isFinite else { throw Unwritable(description: "a number that is not finite") }
            if d == d.rounded(), abs(d) < 1e15 {
                out.append(contentsOf: String(Int64(d)).utf8)
            } else {
                out.append(contentsOf: "\(d)".utf8)
            }
        case CChar(UInt8(ascii: "Q")), CChar(UInt8(ascii: "L")), CChar(UInt8(ascii: "I")), CChar(UInt8(ascii: "S")), CChar(UInt8(ascii: "C")):
            out.append(contentsOf: String(n.uint64Value).utf8)
        default:
            out.append(contentsOf: String(n.int64Value).utf8)
        }
    }

    static func string(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Runs that need no escape (nearly all of a STIX object's text) are copied whole.
        var s = s
        s.withUTF8 { bytes in
            var start = 0
            for i in 0..<bytes.count where bytes[i] < 0x20 || bytes[i] == UInt8(ascii: "\"") || bytes[i] == UInt8(ascii: "\\") {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<i]))
                escape(bytes[i], into: &out)
                start = i + 1
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        }
        out.append(UInt8(ascii: "\""))
    }

    /// The escape of one byte that JSON does not allow bare in a string.
    static func escape(_ byte: UInt8, into out: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
        case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
        case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
        case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
        case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
        case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
        case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
        default:
            let hex = Array("0123456789abcdef".utf8)
            out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
        }
    }
}
