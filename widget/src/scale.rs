//! The pure decisions behind the scale, unit-tested natively: which score each button records,
//! how numbered buttons share rows, and which way the texts read.

/// Whether a survey of `kind` shows numbered buttons (NPS 0–10, CES 1–7) rather than emoji.
pub fn numbered(kind: &str) -> bool {
    kind == "nps" || kind == "ces"
}

/// The score a tap on the `index`-th button (0-based, lowest first) records.
pub fn score_of(first_score: u8, index: usize) -> u8 {
    first_score.saturating_add(u8::try_from(index).unwrap_or(u8::MAX))
}

/// The button that records `score`, when the scale has one.
pub fn index_of(first_score: u8, count: usize, score: u8) -> Option<usize> {
    let index = usize::from(score.checked_sub(first_score)?);
    (index < count).then_some(index)
}

/// How many numbered buttons fit a row: up to seven share one (CES), more make two balanced
/// rows with the longer first (NPS: 6 + 5), so that each button stays at least 32 px wide in a
/// card on a 320 px phone.
pub fn per_row(count: usize) -> usize {
    if count > 7 { count.div_ceil(2) } else { count }
}

/// Whether the `index`-th button starts a second row that is one shorter than the first, and
/// so moves half a button inwards to sit centred under it.
pub fn shifted(index: usize, count: usize) -> bool {
    let row = per_row(count);
    index == row && row < count && count % 2 == 1
}

/// Whether texts in `lang` (a BCP 47 tag such as `ar-EG`) read right to left: its primary
/// language is one written in the Arabic, Hebrew or Thaana script.
pub fn reads_right_to_left(lang: &str) -> bool {
    const RTL: [&str; 11] = [
        "ar", "he", "iw", "fa", "ur", "ps", "sd", "yi", "ug", "ckb", "dv",
    ];
    let primary = lang.split(['-', '_']).next().unwrap_or_default();
    RTL.iter().any(|rtl| primary.eq_ignore_ascii_case(rtl))
}

/// The widget's direction: the language its texts are in decides (the one the collector
/// answered in, else `data-lang`); without one, the direction of the page around the widget.
pub fn right_to_left(text_lang: Option<&str>, page_rtl: bool) -> bool {
    text_lang.map_or(page_rtl, reads_right_to_left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_button_records_the_first_score_plus_its_place() {
        // NPS: the first of eleven buttons is 0, the tenth is 9 (a promoter), the last 10.
        assert_eq!(score_of(0, 0), 0);
        assert_eq!(score_of(0, 9), 9);
        assert_eq!(score_of(0, 10), 10);
        // CES and CSAT start at 1.
        assert_eq!(score_of(1, 0), 1);
        assert_eq!(score_of(1, 6), 7);
        assert_eq!(score_of(250, 300), u8::MAX);
    }

    #[test]
    fn a_score_finds_its_button_only_within_the_scale() {
        assert_eq!(index_of(0, 11, 0), Some(0));
        assert_eq!(index_of(0, 11, 10), Some(10));
        assert_eq!(index_of(0, 11, 11), None);
        assert_eq!(index_of(1, 5, 0), None, "CSAT has no 0");
        assert_eq!(index_of(1, 5, 5), Some(4));
        assert_eq!(index_of(1, 7, 7), Some(6));
    }

    #[test]
    fn eleven_buttons_make_two_balanced_rows_and_seven_or_fewer_one() {
        assert_eq!(per_row(11), 6, "NPS: 6 + 5");
        assert_eq!(per_row(10), 5, "5 + 5");
        assert_eq!(per_row(7), 7, "CES on one row");
        assert_eq!(per_row(5), 5);
        assert_eq!(per_row(2), 2);
    }

    #[test]
    fn only_the_first_button_of_a_shorter_second_row_moves_inwards() {
        let moved: Vec<usize> = (0..11).filter(|&i| shifted(i, 11)).collect();
        assert_eq!(moved, [6], "NPS: the 6 starts the second row, centred");
        assert!((0..10).all(|i| !shifted(i, 10)), "two rows of five line up");
        assert!((0..7).all(|i| !shifted(i, 7)), "one row");
    }

    #[test]
    fn arabic_hebrew_persian_and_urdu_read_right_to_left_whatever_the_region() {
        for lang in ["ar", "ar-EG", "AR", "he", "fa-IR", "ur", "ur_PK"] {
            assert!(reads_right_to_left(lang), "{lang}");
        }
        for lang in ["fr", "en-US", "pt-BR", "arn", "", "h"] {
            assert!(!reads_right_to_left(lang), "{lang}");
        }
    }

    #[test]
    fn the_texts_language_decides_the_direction_and_the_page_decides_without_one() {
        assert!(right_to_left(Some("ar"), false));
        assert!(
            !right_to_left(Some("fr"), true),
            "French texts on a right-to-left page"
        );
        assert!(right_to_left(None, true));
        assert!(!right_to_left(None, false));
    }

    #[test]
    fn only_nps_and_ces_are_numbered() {
        assert!(numbered("nps"));
        assert!(numbered("ces"));
        assert!(!numbered("csat"));
        assert!(!numbered(""));
    }
}
