import Foundation
import TestSupport

/// One of the JSON files written by scripts/optim_reference.py.
func optimFixture(_ name: String) throws -> [String: Any] {
    try loadFixture(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"))
}

/// A JSON number or boolean (Foundation may hand either back as NSNumber or as Bool).
func bool(_ any: Any?, default value: Bool) -> Bool {
    if let b = any as? Bool { return b }
    if let n = any as? NSNumber { return n.boolValue }
    return value
}

func double(_ any: Any?) -> Double? { (any as? NSNumber)?.doubleValue }

func float(_ any: Any?, default value: Float) -> Float { (any as? NSNumber)?.floatValue ?? value }

func int(_ any: Any?) -> Int? { (any as? NSNumber)?.intValue }
