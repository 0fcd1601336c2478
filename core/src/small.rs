//! Sorted lists that are nearly always short (a socket's rooms, a user's sockets), kept in a
//! `Vec` whose capacity follows its length while it is small.

/// Inserts `item` at `at`, growing the list one slot at a time up to four rather than to four
/// at once (`Vec`'s first growth): most of these lists hold one to three entries, one for each
/// connected socket or online user.
pub(crate) fn insert<T>(list: &mut Vec<T>, at: usize, item: T) {
    if list.len() == list.capacity() && list.len() < 4 {
        list.reserve_exact(1);
    }
    list.insert(at, item);
}

#[cfg(test)]
mod tests {
    #[test]
    fn grows_one_at_a_time_up_to_four() {
        let mut list = Vec::new();
        for n in 0..4 {
            super::insert(&mut list, 0, n);
            assert_eq!(list.capacity(), n + 1);
        }
        super::insert(&mut list, 4, 9);
        assert_eq!(list, [3, 2, 1, 0, 9]);
        assert!(list.capacity() >= 5);
    }
}
