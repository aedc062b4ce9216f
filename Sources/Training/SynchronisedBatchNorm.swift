import Distributed
import NN

extension BucketedAllReduce {
    /// Synchronises `batchNorms`' statistics across the ranks (a small all-reduce in each of their
    /// forward and backward passes) and paces this reduction's buckets by those all-reduces
    /// (`paced`): each backward one is followed by the next share of the final gradients.
    func synchroniseStatistics(of batchNorms: [BatchNorm]) {
        paced = true
        for bn in batchNorms {
            bn.reducer = { [communicator, weak self] floats, count in
                communicator.allReduceSum(floats, count: count)
                self?.synchronised()
            }
        }
    }
}
