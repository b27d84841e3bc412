//! Samples of one figure and how they are printed: median (min–max).

use std::time::Duration;

#[derive(Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    fn sorted(&self) -> Vec<Duration> {
        let mut s = self.0.clone();
        s.sort();
        s
    }

    pub fn median(&self) -> Duration {
        let s = self.sorted();
        match s.len() {
            0 => Duration::ZERO,
            n if n % 2 == 1 => s[n / 2],
            n => (s[n / 2 - 1] + s[n / 2]) / 2,
        }
    }

    /// `1.25 ms (1.10–1.60)`.
    pub fn summary(&self) -> String {
        let s = self.sorted();
        let (min, max) = (s.first().copied(), s.last().copied());
        format!(
            "{} ms ({}–{})",
            ms(self.median()),
            ms(min.unwrap_or_default()),
            ms(max.unwrap_or_default())
        )
    }
}

/// Milliseconds with three significant digits or more.
fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1000.0;
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// Onramp's median over the raw median, `6.9×`.
pub fn ratio(onramp: &Samples, raw: &Samples) -> String {
    let raw = raw.median().as_secs_f64();
    if raw == 0.0 {
        return "—".into();
    }
    format!("{:.2}×", onramp.median().as_secs_f64() / raw)
}
