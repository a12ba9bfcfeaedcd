internal import CLibXML2
internal import Foundation

/// A strict, non-validating pass over one XML document with libxml2's
/// streaming reader (`xmlTextReader`), calling a handler for each element,
/// end of element and run of text.
///
/// Refused before the handler sees them: anything not well-formed (every
/// error libxml2 reports, fatal or recoverable, such as an undeclared
/// namespace prefix), document type declarations and entity references
/// (nothing is expanded or fetched; no network), and processing
/// instructions. Comments are skipped. Everything libxml2 allocates for the
/// document is freed before `read` returns, whatever the outcome.
enum XMLStream {
    protocol Handler {
        mutating func start(_ name: String, namespace: String?, attributes: [String: String]) throws(SealingError)
        mutating func characters(_ string: String) throws(SealingError)
        mutating func end(_ name: String) throws(SealingError)
    }

    /// libxml2 asks to be initialised once, before any thread uses it.
    private static let initialised: Bool = {
        xmlInitParser()
        return true
    }()

    /// The first error libxml2 reports while reading one document.
    private final class Errors {
        var first: String?
    }

    static func read<H: Handler>(_ bytes: [UInt8], into handler: inout H) throws(SealingError) {
        precondition(initialised)
        guard !bytes.isEmpty else { throw SealingError(.malformed, "not well-formed XML: the document is empty") }
        // The reader reads the buffer in place (it does not copy it), so it
        // is created and freed inside the buffer's lifetime; `errors` lives
        // until both error handlers that point at it are gone.
        let errors = Errors()
        let result: Result<Void, SealingError> = withExtendedLifetime(errors) {
            bytes.withUnsafeBufferPointer { buffer in
                // The text is UTF-8 whatever its declaration says (IGNORE_ENC).
                // NOERROR/NOWARNING turn off libxml2's own error reporting; the
                // structured handlers below still receive every error (the
                // tests check the messages). Without them, libxml2 2.9's reader
                // keeps about 200 bytes per error message for the life of the
                // process (malformedLabelsLeaveNothingBehind measures it).
                let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue | XML_PARSE_IGNORE_ENC.rawValue)
                let box = Unmanaged.passUnretained(errors).toOpaque()
                let record: xmlStructuredErrorFunc = { context, error in
                    guard let context, let error, error.pointee.level.rawValue >= XML_ERR_ERROR.rawValue else { return }
                    let errors = Unmanaged<Errors>.fromOpaque(context).takeUnretainedValue()
                    guard errors.first == nil else { return }
                    let message = error.pointee.message.map { String(cString: $0) }?
                        .trimmingCharacters(in: .whitespacesAndNewlines) ?? "parse error"
                    errors.first = "line \(error.pointee.line), column \(error.pointee.int2): \(message)"
                }
                // Errors libxml2 raises outside the reader's context (encoding,
                // input) go to the thread's handler, which would print them; this
                // call runs on one thread throughout, so it takes them for the
                // document and then puts back the default (Liaison sets no other).
                xmlSetStructuredErrorFunc(box, record)
                defer { xmlSetStructuredErrorFunc(nil, nil) }
                let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
                guard let reader = xmlReaderForMemory(base, Int32(buffer.count), nil, "UTF-8", options) else {
                    return .failure(SealingError(.malformed, "not well-formed XML: \(errors.first ?? "the document cannot be read")"))
                }
                defer { xmlFreeTextReader(reader) }
                xmlTextReaderSetStructuredErrorHandler(reader, record, box)
                return Result { () throws(SealingError) in try walk(reader, errors, &handler) }
            }
        }
        try result.get()
    }

    private static func walk<H: Handler>(_ reader: xmlTextReaderPtr, _ errors: Errors, _ handler: inout H) throws(SealingError) {
        func notWellFormed() -> SealingError {
            SealingError(.malformed, "not well-formed XML: \(errors.first ?? "parse error")")
        }
        func string(_ p: UnsafePointer<xmlChar>?) -> String? { p.map { String(cString: $0) } }
        while true {
            let step = xmlTextReaderRead(reader)
            if step < 0 || errors.first != nil { throw notWellFormed() }
            if step == 0 { break }
            let name = string(xmlTextReaderConstLocalName(reader)) ?? ""
            switch xmlReaderTypes(rawValue: UInt32(xmlTextReaderNodeType(reader))) {
            case XML_READER_TYPE_ELEMENT:
                let namespace = string(xmlTextReaderConstNamespaceUri(reader))
                let empty = xmlTextReaderIsEmptyElement(reader) == 1
                var attributes: [String: String] = [:]
                while xmlTextReaderMoveToNextAttribute(reader) == 1 {
                    // Namespace declarations and prefixed (foreign) attributes are not the label's.
                    guard xmlTextReaderIsNamespaceDecl(reader) == 0, xmlTextReaderConstPrefix(reader) == nil,
                        let key = string(xmlTextReaderConstLocalName(reader))
                    else { continue }
                    attributes[key] = string(xmlTextReaderConstValue(reader)) ?? ""
                }
                _ = xmlTextReaderMoveToElement(reader)
                try handler.start(name, namespace: namespace, attributes: attributes)
                if empty { try handler.end(name) }
            case XML_READER_TYPE_END_ELEMENT:
                try handler.end(name)
            case XML_READER_TYPE_TEXT, XML_READER_TYPE_CDATA, XML_READER_TYPE_WHITESPACE,
                XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
                try handler.characters(string(xmlTextReaderConstValue(reader)) ?? "")
            case XML_READER_TYPE_COMMENT:
                continue
            case XML_READER_TYPE_PROCESSING_INSTRUCTION:
                throw SealingError(.malformed, "processing instructions are not accepted")
            default:
                throw SealingError(.malformed, "document type declarations and entities are not accepted")
            }
        }
        if let first = errors.first { throw SealingError(.malformed, "not well-formed XML: \(first)") }
    }
}
