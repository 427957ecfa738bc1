//! Significance tests for comparing two windows of requests: Mann–Whitney U for latency
//! (no assumption about the shape of the distribution, which for latencies is rarely
//! normal) and a two-proportion z-test for error rates. Both two-sided, with the normal
//! approximation, which is sound at the sample sizes regression detection requires.

/// The outcome of a Mann–Whitney U test of `a` against `b`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MannWhitney {
    /// U of `b`: how many of the (a, b) pairs have b larger (ties count half).
    pub u: f64,
    pub p_value: f64,
    /// Whether values of `b` tend to be larger than values of `a`.
    pub b_larger: bool,
}

/// Mann–Whitney U over two **sorted** samples, with average ranks for ties, the tie
/// correction of the variance and a continuity correction. `None` when either is empty.
pub fn mann_whitney(a: &[u64], b: &[u64]) -> Option<MannWhitney> {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    if a.is_empty() || b.is_empty() {
        return None;
    }
    // Walk both sorted samples as one, ranking each run of equal values together.
    let (mut i, mut j) = (0usize, 0usize);
    let mut rank_sum_b = 0.0;
    let mut tie_term = 0.0;
    let mut next_rank = 1.0;
    while i < a.len() || j < b.len() {
        let value = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        let from_a = a[i..].iter().take_while(|&&x| x == value).count();
        let from_b = b[j..].iter().take_while(|&&y| y == value).count();
        let run = (from_a + from_b) as f64;
        let average_rank = next_rank + (run - 1.0) / 2.0;
        rank_sum_b += average_rank * from_b as f64;
        tie_term += run * run * run - run;
        next_rank += run;
        i += from_a;
        j += from_b;
    }
    let u = rank_sum_b - n2 * (n2 + 1.0) / 2.0;
    let mean = n1 * n2 / 2.0;
    let n = n1 + n2;
    let variance = n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)).max(1.0));
    let p_value = if variance <= 0.0 {
        1.0
    } else {
        let z = ((u - mean).abs() - 0.5).max(0.0) / variance.sqrt();
        two_sided(z)
    };
    Some(MannWhitney { u, p_value, b_larger: u > mean })
}

/// Two-proportion z-test: p-value for "the error rates of the two windows differ".
pub fn proportions_differ(errors_a: usize, n_a: usize, errors_b: usize, n_b: usize) -> f64 {
    if n_a == 0 || n_b == 0 {
        return 1.0;
    }
    let (pa, pb) = (errors_a as f64 / n_a as f64, errors_b as f64 / n_b as f64);
    let pooled = (errors_a + errors_b) as f64 / (n_a + n_b) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / n_a as f64 + 1.0 / n_b as f64)).sqrt();
    if se == 0.0 { 1.0 } else { two_sided((pb - pa).abs() / se) }
}

/// P(|Z| ≥ z) for a standard normal Z.
fn two_sided(z: f64) -> f64 {
    libm::erfc(z / std::f64::consts::SQRT_2).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_textbook_example() {
        // scipy.stats.mannwhitneyu([6,7,8,9,10], [1,2,3,4,5], alternative="two-sided",
        // method="asymptotic") gives U = 25 and p = 0.0121857803553448.
        let test = mann_whitney(&[1, 2, 3, 4, 5], &[6, 7, 8, 9, 10]).unwrap();
        assert_eq!(test.u, 25.0);
        assert!((test.p_value - 0.012_185_780_355_344_8).abs() < 1e-9, "{}", test.p_value);
        assert!(test.b_larger);
    }

    #[test]
    fn ties_are_ranked_together_and_identical_samples_do_not_differ() {
        // scipy: mannwhitneyu([2,3,3,4], [1,2,2,3], method="asymptotic") → U = 13,
        // p = 0.1720337089218229.
        let test = mann_whitney(&[1, 2, 2, 3], &[2, 3, 3, 4]).unwrap();
        assert_eq!(test.u, 13.0);
        assert!((test.p_value - 0.172_033_708_921_822_9).abs() < 1e-9, "{}", test.p_value);
        let same = mann_whitney(&[5; 50], &[5; 50]).unwrap();
        assert_eq!((same.p_value, same.b_larger), (1.0, false));
        assert!(mann_whitney(&[], &[1]).is_none());
    }

    #[test]
    fn error_rates_differ_only_when_the_counts_say_so() {
        assert!(proportions_differ(2, 200, 30, 200) < 0.001);
        assert!(proportions_differ(2, 200, 3, 200) > 0.5);
        assert_eq!(proportions_differ(0, 100, 0, 100), 1.0);
    }
}
