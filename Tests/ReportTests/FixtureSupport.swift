import Foundation
import TestSupport

/// The reference fixture written by `scripts/formats_make_fixtures.py`.
func reportReference() throws -> [String: Any] {
    try loadFixture(Bundle.module.url(forResource: "report_reference", withExtension: "json", subdirectory: "Fixtures"))
}
