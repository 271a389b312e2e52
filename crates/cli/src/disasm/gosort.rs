//! Go's `slices.SortFunc` (pattern-defeating quicksort): not stable, so the
//! order it leaves equal elements in is its own. Go's disassembler sorts a
//! binary's symbols by address with it and names an address after the last
//! symbol at or below it; aliases (one address, several names: folded
//! functions, section markers) get the name Go's sort leaves last.

use std::cmp::Ordering;

/// Sorts `v` as Go's `slices.SortFunc(v, cmp)` does, equal elements included.
pub fn sort_func<T>(v: &mut [T], cmp: &dyn Fn(&T, &T) -> Ordering) {
    let n = v.len();
    let limit = usize::BITS - n.leading_zeros();
    pdqsort(v, 0, n, limit as usize, cmp);
}

fn less<T>(v: &[T], i: usize, j: usize, cmp: &dyn Fn(&T, &T) -> Ordering) -> bool {
    cmp(&v[i], &v[j]) == Ordering::Less
}

fn insertion_sort<T>(v: &mut [T], a: usize, b: usize, cmp: &dyn Fn(&T, &T) -> Ordering) {
    for i in a + 1..b {
        let mut j = i;
        while j > a && less(v, j, j - 1, cmp) {
            v.swap(j, j - 1);
            j -= 1;
        }
    }
}

fn sift_down<T>(v: &mut [T], lo: usize, hi: usize, first: usize, cmp: &dyn Fn(&T, &T) -> Ordering) {
    let mut root = lo;
    loop {
        let mut child = 2 * root + 1;
        if child >= hi {
            return;
        }
        if child + 1 < hi && less(v, first + child, first + child + 1, cmp) {
            child += 1;
        }
        if !less(v, first + root, first + child, cmp) {
            return;
        }
        v.swap(first + root, first + child);
        root = child;
    }
}

fn heap_sort<T>(v: &mut [T], a: usize, b: usize, cmp: &dyn Fn(&T, &T) -> Ordering) {
    let hi = b - a;
    for i in (0..hi.div_ceil(2)).rev() {
        sift_down(v, i, hi, a, cmp);
    }
    for i in (0..hi).rev() {
        v.swap(a, a + i);
        sift_down(v, 0, i, a, cmp);
    }
}

#[derive(PartialEq, Eq)]
enum Hint {
    Unknown,
    Increasing,
    Decreasing,
}

fn pdqsort<T>(v: &mut [T], mut a: usize, mut b: usize, mut limit: usize, cmp: &dyn Fn(&T, &T) -> Ordering) {
    const MAX_INSERTION: usize = 12;
    let (mut was_balanced, mut was_partitioned) = (true, true);
    loop {
        let length = b - a;
        if length <= MAX_INSERTION {
            insertion_sort(v, a, b, cmp);
            return;
        }
        if limit == 0 {
            heap_sort(v, a, b, cmp);
            return;
        }
        if !was_balanced {
            break_patterns(v, a, b);
            limit -= 1;
        }
        let (mut pivot, mut hint) = choose_pivot(v, a, b, cmp);
        if hint == Hint::Decreasing {
            v[a..b].reverse();
            pivot = (b - 1) - (pivot - a);
            hint = Hint::Increasing;
        }
        if was_balanced && was_partitioned && hint == Hint::Increasing && partial_insertion_sort(v, a, b, cmp)
        {
            return;
        }
        if a > 0 && !less(v, a - 1, pivot, cmp) {
            a = partition_equal(v, a, b, pivot, cmp);
            continue;
        }
        let (mid, already) = partition(v, a, b, pivot, cmp);
        was_partitioned = already;
        let (left, right) = (mid - a, b - mid);
        let threshold = length / 8;
        if left < right {
            was_balanced = left >= threshold;
            pdqsort(v, a, mid, limit, cmp);
            a = mid + 1;
        } else {
            was_balanced = right >= threshold;
            pdqsort(v, mid + 1, b, limit, cmp);
            b = mid;
        }
    }
}

fn partition<T>(
    v: &mut [T],
    a: usize,
    b: usize,
    pivot: usize,
    cmp: &dyn Fn(&T, &T) -> Ordering,
) -> (usize, bool) {
    v.swap(a, pivot);
    // Signed: j may step below a + 1.
    let (mut i, mut j) = (a as isize + 1, b as isize - 1);
    let lt = |v: &[T], x: isize| less(v, x as usize, a, cmp);
    while i <= j && lt(v, i) {
        i += 1;
    }
    while i <= j && !lt(v, j) {
        j -= 1;
    }
    if i > j {
        v.swap(j as usize, a);
        return (j as usize, true);
    }
    v.swap(i as usize, j as usize);
    i += 1;
    j -= 1;
    loop {
        while i <= j && lt(v, i) {
            i += 1;
        }
        while i <= j && !lt(v, j) {
            j -= 1;
        }
        if i > j {
            break;
        }
        v.swap(i as usize, j as usize);
        i += 1;
        j -= 1;
    }
    v.swap(j as usize, a);
    (j as usize, false)
}

fn partition_equal<T>(
    v: &mut [T],
    a: usize,
    b: usize,
    pivot: usize,
    cmp: &dyn Fn(&T, &T) -> Ordering,
) -> usize {
    v.swap(a, pivot);
    let (mut i, mut j) = (a as isize + 1, b as isize - 1);
    loop {
        while i <= j && !less(v, a, i as usize, cmp) {
            i += 1;
        }
        while i <= j && less(v, a, j as usize, cmp) {
            j -= 1;
        }
        if i > j {
            break;
        }
        v.swap(i as usize, j as usize);
        i += 1;
        j -= 1;
    }
    i as usize
}

fn partial_insertion_sort<T>(v: &mut [T], a: usize, b: usize, cmp: &dyn Fn(&T, &T) -> Ordering) -> bool {
    const MAX_STEPS: usize = 5;
    const SHORTEST_SHIFTING: usize = 50;
    let mut i = a + 1;
    for _ in 0..MAX_STEPS {
        while i < b && !less(v, i, i - 1, cmp) {
            i += 1;
        }
        if i == b {
            return true;
        }
        if b - a < SHORTEST_SHIFTING {
            return false;
        }
        v.swap(i, i - 1);
        if i - a >= 2 {
            let mut j = i - 1;
            while j >= 1 {
                if !less(v, j, j - 1, cmp) {
                    break;
                }
                v.swap(j, j - 1);
                j -= 1;
            }
        }
        if b - i >= 2 {
            for j in i + 1..b {
                if !less(v, j, j - 1, cmp) {
                    break;
                }
                v.swap(j, j - 1);
            }
        }
    }
    false
}

fn break_patterns<T>(v: &mut [T], a: usize, b: usize) {
    let length = b - a;
    if length < 8 {
        return;
    }
    let mut random = length as u64;
    let modulus = 1usize << (usize::BITS - length.leading_zeros());
    let mid = a + (length / 4) * 2;
    for idx in mid - 1..=mid + 1 {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        let mut other = (random as usize) & (modulus - 1);
        if other >= length {
            other -= length;
        }
        v.swap(idx, a + other);
    }
}

fn choose_pivot<T>(v: &mut [T], a: usize, b: usize, cmp: &dyn Fn(&T, &T) -> Ordering) -> (usize, Hint) {
    const SHORTEST_NINTHER: usize = 50;
    const MAX_SWAPS: usize = 4 * 3;
    let l = b - a;
    let mut swaps = 0;
    let (mut i, mut j, mut k) = (a + l / 4, a + l / 4 * 2, a + l / 4 * 3);
    if l >= 8 {
        if l >= SHORTEST_NINTHER {
            i = median(v, i - 1, i, i + 1, &mut swaps, cmp);
            j = median(v, j - 1, j, j + 1, &mut swaps, cmp);
            k = median(v, k - 1, k, k + 1, &mut swaps, cmp);
        }
        j = median(v, i, j, k, &mut swaps, cmp);
    }
    match swaps {
        0 => (j, Hint::Increasing),
        MAX_SWAPS => (j, Hint::Decreasing),
        _ => (j, Hint::Unknown),
    }
}

fn order2<T>(
    v: &[T],
    a: usize,
    b: usize,
    swaps: &mut usize,
    cmp: &dyn Fn(&T, &T) -> Ordering,
) -> (usize, usize) {
    if less(v, b, a, cmp) {
        *swaps += 1;
        return (b, a);
    }
    (a, b)
}

fn median<T>(
    v: &[T],
    a: usize,
    b: usize,
    c: usize,
    swaps: &mut usize,
    cmp: &dyn Fn(&T, &T) -> Ordering,
) -> usize {
    let (a, b) = order2(v, a, b, swaps, cmp);
    let (b, c) = order2(v, b, c, swaps, cmp);
    let _ = c;
    let (_a, b) = order2(v, a, b, swaps, cmp);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts() {
        for n in [0usize, 1, 5, 13, 60, 500, 5000] {
            let mut v: Vec<u64> = (0..n as u64).map(|i| (i * 7919 + 13) % 101).collect();
            sort_func(&mut v, &|a, b| a.cmp(b));
            assert!(v.windows(2).all(|w| w[0] <= w[1]), "n={n}");
        }
    }
}
