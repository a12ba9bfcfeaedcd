internal import Foundation
public import LiaisonModel

/// Reads agreement, scheme and statements files from disk: the I/O edge
/// around the pure parsers of LiaisonModel.
public enum DocumentFiles {
    /// Reads `path` as UTF-8 text, refusing missing, oversized and binary files.
    public static func read(_ path: String) throws(AppError) -> SourceText {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw AppError(.unreadableFile, "\(path): no such file")
        }
        guard !isDirectory.boolValue else { throw AppError(.unreadableFile, "\(path): is a directory, not a file") }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        guard size <= 1 << 20 else {
            throw AppError(.unreadableFile, "\(path): \(size) bytes; documents are limited to 1 MiB")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AppError(.unreadableFile, "\(path): cannot be read (permissions?)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw AppError(.unreadableFile, "\(path): not UTF-8 text")
        }
        return SourceText(name: path, text: text)
    }

    /// Loads and validates the agreement at `path`; scheme references resolve
    /// relative to the agreement's directory.
    public static func agreement(at path: String) throws(AppError) -> Agreement {
        let source = try read(path)
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        let result = AgreementDocument.parse(source) { reference in
            let resolved =
                reference.hasPrefix("/") ? reference : directory.appendingPathComponent(reference).standardized.path
            return try read(resolved)
        }
        switch result {
        case .success(let a): return a
        case .failure(let e): throw AppError(.invalidDocument, e.description)
        }
    }

    /// Loads a statements file, checking it is for `agreement`.
    public static func statements(at path: String, for agreement: Agreement.ID) throws(AppError) -> [LifecycleStatement] {
        let source = try read(path)
        switch StatementsDocument.parse(source) {
        case .success(let contents):
            guard contents.agreement == agreement else {
                throw AppError(
                    .invalidDocument,
                    "\(path): agreement: the statements are for \(contents.agreement), not \(agreement)")
            }
            return contents.statements
        case .failure(let e):
            throw AppError(.invalidDocument, e.description)
        }
    }
}
