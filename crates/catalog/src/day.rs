//! [`Day`]: a calendar date written `YYYY-MM-DD`, read from a TOML date
//! (`date = 2025-01-01`) or a string (`date = "2025-01-01"`).

use std::fmt;

use jiff::civil::Date;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar day (no time, no zone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub Date);

impl Day {
    /// Builds a day; `None` if it does not exist.
    pub fn new(year: i16, month: i8, day: i8) -> Option<Day> {
        Date::new(year, month, day).ok().map(Day)
    }

    /// Today in UTC.
    pub fn today_utc() -> Day {
        Day(jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date())
    }

    /// This day `months` calendar months later (clamped to the month's end).
    pub fn plus_months(self, months: i32) -> Day {
        self.0
            .checked_add(jiff::Span::new().months(months))
            .map(Day)
            .unwrap_or(self)
    }

    /// This day `years` calendar years earlier.
    pub fn minus_years(self, years: i16) -> Day {
        self.0
            .checked_sub(jiff::Span::new().years(years))
            .map(Day)
            .unwrap_or(self)
    }
}

impl std::str::FromStr for Day {
    type Err = String;
    fn from_str(s: &str) -> Result<Day, String> {
        if s.len() != 10 {
            return Err(format!("`{s}` is not a date (YYYY-MM-DD)"));
        }
        s.parse::<Date>()
            .map(Day)
            .map_err(|e| format!("`{s}` is not a date (YYYY-MM-DD): {e}"))
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Day, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Day;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a date YYYY-MM-DD")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Day, E> {
                s.parse().map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Day, A::Error> {
                // A TOML date arrives as toml's datetime map; let toml decode it.
                let dt = toml::value::Datetime::deserialize(de::value::MapAccessDeserializer::new(map))?;
                match (dt.date, dt.time, dt.offset) {
                    (Some(date), None, None) => Day::new(date.year as i16, date.month as i8, date.day as i8)
                        .ok_or_else(|| de::Error::custom(format!("`{dt}` is not a day of the calendar"))),
                    _ => Err(de::Error::custom(format!("`{dt}` is not a plain date (YYYY-MM-DD)"))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T {
        d: Day,
    }

    #[test]
    fn toml_dates_and_strings() {
        let a: T = toml::from_str("d = 2025-02-28").expect("toml date");
        let b: T = toml::from_str("d = \"2025-02-28\"").expect("string date");
        assert_eq!(a.d, b.d);
        assert!(toml::from_str::<T>("d = 2025-02-30").is_err());
        assert!(toml::from_str::<T>("d = 2025-02-28T10:00:00Z").is_err());
        assert!(toml::from_str::<T>("d = \"28/02/2025\"").is_err());
        assert_eq!(a.d.plus_months(12).to_string(), "2026-02-28");
        assert_eq!(serde_json::to_string(&a.d).expect("json"), "\"2025-02-28\"");
    }
}
