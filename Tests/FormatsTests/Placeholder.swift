import XCTest

final class FormatsPlaceholderTests: XCTestCase {}
