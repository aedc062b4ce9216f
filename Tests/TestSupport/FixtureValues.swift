import Foundation

/// A JSON number or boolean (Foundation may hand either back as NSNumber or as Bool).
public func bool(_ any: Any?, default value: Bool) -> Bool {
    if let b = any as? Bool { return b }
    if let n = any as? NSNumber { return n.boolValue }
    return value
}

/// A JSON number as a Double; nil when it is not a number.
public func double(_ any: Any?) -> Double? { (any as? NSNumber)?.doubleValue }

/// A JSON number as a Float, or `value` when it is not a number.
public func float(_ any: Any?, default value: Float) -> Float { (any as? NSNumber)?.floatValue ?? value }

/// A JSON number as an Int; nil when it is not a number.
public func int(_ any: Any?) -> Int? { (any as? NSNumber)?.intValue }
