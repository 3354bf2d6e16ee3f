//! Names derived from Rust identifiers: `snake_case` modules, `UpperCamel`
//! request structs, `SCREAMING_SNAKE` op constants.
//!
//! Words split the way `heck` splits them: at `_`, at a lower-case letter or
//! digit followed by an upper-case one, and before the last capital of an
//! acronym (`HTTPServer` is `HTTP` + `Server`).

/// The words of `name`, in order, with their original case.
fn words(name: &str) -> Vec<&str> {
    let mut words = Vec::new();
    for part in name.split('_').filter(|part| !part.is_empty()) {
        let chars: Vec<(usize, char)> = part.char_indices().collect();
        let mut start = 0;
        for i in 1..chars.len() {
            let (at, cur) = chars[i];
            let prev = chars[i - 1].1;
            let next = chars.get(i + 1).map(|&(_, c)| c);
            let lower_to_upper = (prev.is_lowercase() || prev.is_numeric()) && cur.is_uppercase();
            let acronym_end =
                prev.is_uppercase() && cur.is_uppercase() && next.is_some_and(char::is_lowercase);
            if lower_to_upper || acronym_end {
                words.push(&part[start..at]);
                start = at;
            }
        }
        words.push(&part[start..]);
    }
    words
}

/// `KeyValueStore` -> `key_value_store`.
pub(crate) fn snake(name: &str) -> String {
    join(name, "_", str::to_lowercase)
}

/// `get_value` -> `GET_VALUE`.
pub(crate) fn screaming_snake(name: &str) -> String {
    join(name, "_", str::to_uppercase)
}

/// `get_value` -> `GetValue`.
pub(crate) fn upper_camel(name: &str) -> String {
    join(name, "", |word| {
        let mut chars = word.chars();
        match chars.next() {
            Some(first) => first
                .to_uppercase()
                .chain(chars.flat_map(char::to_lowercase))
                .collect(),
            None => String::new(),
        }
    })
}

fn join(name: &str, separator: &str, case: impl Fn(&str) -> String) -> String {
    words(name)
        .into_iter()
        .map(case)
        .collect::<Vec<_>>()
        .join(separator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case() {
        assert_eq!(snake("Calc"), "calc");
        assert_eq!(snake("KeyValueStore"), "key_value_store");
        assert_eq!(snake("HTTPServer"), "http_server");
        assert_eq!(snake("V2Api"), "v2_api");
        assert_eq!(snake("Calc2"), "calc2");
        assert_eq!(snake("already_snake"), "already_snake");
    }

    #[test]
    fn screaming_and_camel() {
        assert_eq!(screaming_snake("add"), "ADD");
        assert_eq!(screaming_snake("get_value"), "GET_VALUE");
        assert_eq!(screaming_snake("getHTTPStatus"), "GET_HTTP_STATUS");
        assert_eq!(upper_camel("add"), "Add");
        assert_eq!(upper_camel("get_value"), "GetValue");
        assert_eq!(upper_camel("getValue"), "GetValue");
        assert_eq!(upper_camel("_private__x"), "PrivateX");
    }

    #[test]
    fn no_words() {
        assert_eq!(upper_camel("__"), "");
        assert_eq!(screaming_snake("_"), "");
    }
}
