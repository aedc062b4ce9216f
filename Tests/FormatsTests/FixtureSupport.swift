import Foundation
import TestSupport
import XCTest

/// The reference fixture written by `scripts/formats_make_fixtures.py`.
func formatsReference() throws -> [String: Any] {
    try loadFixture(Bundle.module.url(forResource: "formats_reference", withExtension: "json", subdirectory: "Fixtures"))
}

/// A binary fixture file next to the JSON.
func fixtureURL(_ name: String, _ ext: String) throws -> URL {
    try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Fixtures"),
                  "fixture \(name).\(ext) not bundled")
}
