internal import Foundation
public import LiaisonModel

/// The agreements shipped in `Examples/` with their statements: the real
/// Korea–Japan–US set.
public struct ExampleSet: Sendable {
    public var directory: String
    public var agreements: [Agreement.ID: Agreement]
    public var statements: [Agreement.ID: [LifecycleStatement]]

    public static let agreementIDs = ["gsomia-kor-jpn-2016", "gsomia-kor-usa-1987", "gsomia-jpn-usa-2007", "tisa-2014"]

    /// Loads the example set from `directory` (the `Examples` folder).
    public init(directory: String) throws(AppError) {
        self.directory = directory
        agreements = [:]
        statements = [:]
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: "\(directory)/agreements")) ?? []).filter { $0.hasSuffix(".yaml") }
        guard !files.isEmpty else { throw AppError(.unreadableFile, "\(directory)/agreements holds no agreement (*.yaml)") }
        for file in files.sorted() {
            let a = try DocumentFiles.agreement(at: "\(directory)/agreements/\(file)")
            guard agreements[a.id] == nil else { throw AppError(.invalidDocument, "two agreements in \(directory)/agreements have the id \(a.id)") }
            agreements[a.id] = a
            let statementsFile = "\(directory)/statements/\(a.id).yaml"
            statements[a.id] = FileManager.default.fileExists(atPath: statementsFile) ? try DocumentFiles.statements(at: statementsFile, for: a.id) : []
        }
    }

    /// Finds `Examples/`: the given directory, else under the working
    /// directory, else beside the sources this binary was built from.
    public static func locate(_ given: String?, sourceFile: String = #filePath) throws(AppError) -> String {
        if let given { return given }
        let candidates = [
            FileManager.default.currentDirectoryPath + "/Examples",
            URL(fileURLWithPath: sourceFile).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("Examples").path,
        ]
        for c in candidates where FileManager.default.fileExists(atPath: c + "/agreements") { return c }
        throw AppError(.unreadableFile, "cannot find the Examples folder; run from the repository root or pass --examples DIR")
    }

    /// The lifecycles of every agreement, with `replacing` statements swapped
    /// in for one agreement (to tell what-if stories).
    public func book(replacing: [Agreement.ID: [LifecycleStatement]] = [:]) -> AgreementBook {
        AgreementBook(
            agreements.values.map {
                AgreementLifecycle(agreement: $0, statements: replacing[$0.id] ?? statements[$0.id] ?? [])
            })
    }
}
