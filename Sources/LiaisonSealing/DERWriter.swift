public import Foundation
public import LiaisonModel

/// Writes DER with every length computed before any byte is written.
///
/// swift-asn1 parses every structure here, but its serializer writes a
/// constructed node's content first and then shifts it, one byte at a
/// time, to make room for the length — once per enclosing node. For a
/// batch of envelopes (payload-sized OCTET STRINGs four levels deep) that
/// shifting dominated sealing. This writer records the structure, computes
/// the lengths bottom-up, and writes each byte once. It emits only the few
/// universal types the protocol uses, in their DER form.
public struct DERWriter: Sendable {
    /// A constructed node opened at `arenaStart`, or a primitive/raw run of
    /// arena bytes; tags of primitives are written into the arena inline
    /// with a placeholder for their length.
    enum Op: Sendable {
        case open(tag: UInt8)
        case close
        /// A primitive's content, `arena[start..<end]`, with its tag.
        case primitive(tag: UInt8, start: Int, end: Int)
        /// Complete DER bytes, `arena[start..<end]`.
        case raw(start: Int, end: Int)
    }

    private var ops: [Op] = []
    private var arena: [UInt8] = []

    public init() {}

    // MARK: Structure

    public mutating func sequence(_ body: (inout DERWriter) throws -> Void) rethrows {
        ops.append(.open(tag: 0x30))
        try body(&self)
        ops.append(.close)
    }

    /// `[tag] EXPLICIT` around what `body` writes.
    public mutating func optional(_ tag: UInt, _ body: (inout DERWriter) throws -> Void) rethrows {
        precondition(tag < 31)
        ops.append(.open(tag: 0xA0 | UInt8(tag)))
        try body(&self)
        ops.append(.close)
    }

    /// Bytes that are already a complete DER encoding.
    public mutating func raw(_ bytes: [UInt8]) {
        let start = arena.count
        arena.append(contentsOf: bytes)
        ops.append(.raw(start: start, end: arena.count))
    }

    private mutating func primitive(_ tag: UInt8, _ write: (inout [UInt8]) -> Void) {
        let start = arena.count
        write(&arena)
        ops.append(.primitive(tag: tag, start: start, end: arena.count))
    }

    // MARK: Values

    public mutating func octets(_ b: [UInt8]) { primitive(0x04) { $0.append(contentsOf: b) } }
    public mutating func octets(_ b: ArraySlice<UInt8>) { primitive(0x04) { $0.append(contentsOf: b) } }
    public mutating func utf8(_ s: String) { primitive(0x0C) { $0.append(contentsOf: s.utf8) } }
    public mutating func printable(_ s: String) { primitive(0x13) { $0.append(contentsOf: s.utf8) } }
    public mutating func integer(_ i: Int) { integer64(Int64(i)) }
    public mutating func integer64(_ i: Int64) { primitive(0x02) { Self.appendInteger(i, to: &$0) } }
    public mutating func enumerated(_ i: Int) { primitive(0x0A) { Self.appendInteger(Int64(i), to: &$0) } }
    public mutating func boolean(_ b: Bool) { primitive(0x01) { $0.append(b ? 0xFF : 0x00) } }
    public mutating func party(_ p: Party) { printable(p.code) }
    /// Instants are milliseconds since 1970-01-01T00:00:00Z (INTEGER).
    public mutating func instant(_ d: Date) { integer64(Instant.milliseconds(d)) }
    public mutating func utf8List(_ items: [String]) { sequence { s in for i in items { s.utf8(i) } } }
    /// An audit path: its hashes end to end in one OCTET STRING.
    public mutating func path(_ p: AuditPath) { octets(p.bytes) }

    /// Appends the minimal two's-complement big-endian encoding of `v`.
    static func appendInteger(_ v: Int64, to out: inout [UInt8]) {
        for i in (0..<integerLength(v)).reversed() { out.append(UInt8(truncatingIfNeeded: v >> (i * 8))) }
    }

    /// Bytes a TLV with `content` bytes of content takes (one-byte tag).
    static func encodedLength(_ content: Int) -> Int { 1 + lengthSize(content) + content }

    /// Bytes of the minimal two's-complement encoding of `v`.
    static func integerLength(_ v: Int64) -> Int {
        var n = 8
        while n > 1 {
            let top = UInt8(truncatingIfNeeded: v >> ((n - 1) * 8))
            let next = UInt8(truncatingIfNeeded: v >> ((n - 2) * 8))
            guard (top == 0x00 && next & 0x80 == 0) || (top == 0xFF && next & 0x80 != 0) else { break }
            n -= 1
        }
        return n
    }

    /// A tag and a length, for writers that know their lengths up front.
    static func appendHeader(_ tag: UInt8, _ length: Int, to out: inout [UInt8]) {
        out.append(tag)
        writeLength(length, into: &out)
    }

    /// A whole INTEGER (or ENUMERATED) TLV.
    static func appendInteger(_ tag: UInt8, _ v: Int64, to out: inout [UInt8]) {
        appendHeader(tag, integerLength(v), to: &out)
        appendInteger(v, to: &out)
    }

    static func lengthSize(_ n: Int) -> Int {
        if n < 0x80 { return 1 }
        var bytes = 0
        var m = n
        while m > 0 {
            bytes += 1
            m >>= 8
        }
        return 1 + bytes
    }

    static func writeLength(_ n: Int, into out: inout [UInt8]) {
        if n < 0x80 {
            out.append(UInt8(n))
            return
        }
        let size = lengthSize(n) - 1
        out.append(0x80 | UInt8(size))
        for shift in (0..<size).reversed() { out.append(UInt8(truncatingIfNeeded: n >> (shift * 8))) }
    }

    /// The encoding.
    public var bytes: [UInt8] {
        // Pass 1: content length of every constructed node.
        var contentLength = [Int](repeating: 0, count: ops.count)
        var stack: [(index: Int, length: Int)] = [(-1, 0)]
        for i in ops.indices {
            switch ops[i] {
            case .open:
                stack.append((i, 0))
            case .close:
                let node = stack.removeLast()
                contentLength[node.index] = node.length
                stack[stack.count - 1].length += 1 + Self.lengthSize(node.length) + node.length
            case .primitive(_, let start, let end):
                stack[stack.count - 1].length += 1 + Self.lengthSize(end - start) + end - start
            case .raw(let start, let end):
                stack[stack.count - 1].length += end - start
            }
        }
        precondition(stack.count == 1, "unbalanced DER structure")
        // Pass 2: write each byte once.
        var out: [UInt8] = []
        out.reserveCapacity(stack[0].length)
        for i in ops.indices {
            switch ops[i] {
            case .open(let tag):
                out.append(tag)
                Self.writeLength(contentLength[i], into: &out)
            case .close:
                break
            case .primitive(let tag, let start, let end):
                out.append(tag)
                Self.writeLength(end - start, into: &out)
                out.append(contentsOf: arena[start..<end])
            case .raw(let start, let end):
                out.append(contentsOf: arena[start..<end])
            }
        }
        return out
    }
}
