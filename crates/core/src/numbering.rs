//! Numbering-plan data: where a phone number is, and so its time zone and any
//! stricter state rule on when it may be texted.
//!
//! The NANP table follows the NANPA NPA database (file of 2025-11-26): every
//! geographic area code assigned, in service or not yet. Codes whose area spans
//! two zones were settled by where most subscribers live, checked against
//! libphonenumber's per-exchange zone data. Zone names are those of the tz
//! database's `zone.tab`, which jiff's bundled copy knows.

use jiff::civil::Weekday;

/// A North American Numbering Plan area code's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NanpArea {
    pub code: u16,
    /// ISO 3166-2 style region: "US-CA", "US-FL", "CA-ON", or for NANP countries outside the US/Canada their
    /// ISO 3166-1 alpha-2 code: "PR" (Puerto Rico), "JM", "DO", "BS", ...
    pub region: &'static str,
    /// The IANA time zone most of the area code's subscribers live in, e.g. "America/Los_Angeles".
    pub zone: &'static str,
}

/// The place of a NANP area code (the 3 digits after +1), if it is assigned to a geographic area.
/// Toll-free, premium, personal (5XX) and other non-geographic codes have none.
pub fn nanp_area(code: u16) -> Option<NanpArea> {
    NANP.binary_search_by_key(&code, |a| a.code).ok().map(|i| NANP[i])
}

/// The main IANA zone of a country, by ISO 3166-1 alpha-2 code (upper case), e.g. "GB" -> "Europe/London".
/// "Main" is the zone of the capital or of most of the population; a guess for when nothing better is known.
pub fn country_zone(iso2: &str) -> Option<&'static str> {
    COUNTRY_ZONES.binary_search_by_key(&iso2, |&(code, _)| code).ok().map(|i| COUNTRY_ZONES[i].1)
}

/// The country whose numbers people in `zone` most likely type without a country code: the country this is the
/// main zone of ("Europe/London" -> "GB"), else the country of the North American area codes that keep it
/// ("America/Los_Angeles" -> "US", "America/Vancouver" -> "CA"). None for "UTC" and zones we cannot place.
pub fn country_of_zone(zone: &str) -> Option<&'static str> {
    COUNTRY_ZONES
        .iter()
        .find(|(_, z)| *z == zone)
        .map(|(code, _)| *code)
        .or_else(|| NANP.iter().find(|a| a.zone == zone).and_then(|a| a.region.split('-').next()))
}

/// A US state's rule on when commercial texts and calls may reach its residents, where it is stricter than the
/// federal 8:00-21:00 every day. Hours are whole hours in the recipient's local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateRule {
    /// (start hour, end hour) on days without an entry of their own.
    pub window: (u8, u8),
    /// Days with a window of their own, or None where the law bans that day.
    pub days: &'static [(Weekday, Option<(u8, u8)>)],
    /// The law bans the state's legal holidays. Each state's list differs and some move with the governor's
    /// proclamations; the gate approximates with the US federal holidays (see `timing::is_us_federal_holiday`).
    pub legal_holidays: bool,
}

/// The stricter rule of a US state, keyed by region ("US-FL"). None where the state has none.
pub fn state_rule(region: &str) -> Option<&'static StateRule> {
    STATE_RULES.binary_search_by_key(&region, |(code, _)| *code).ok().map(|i| &STATE_RULES[i].1)
}

/// The usual daily window of a state's stricter rule, as (start hour, end hour); see `state_rule` for its days.
pub fn state_quiet_window(region: &str) -> Option<(u8, u8)> {
    state_rule(region).map(|r| r.window)
}

const fn area(code: u16, region: &'static str, zone: &'static str) -> NanpArea {
    NanpArea { code, region, zone }
}

/// Sorted by code.
const NANP: &[NanpArea] = &[
    area(201, "US-NJ", "America/New_York"),
    area(202, "US-DC", "America/New_York"),
    area(203, "US-CT", "America/New_York"),
    area(204, "CA-MB", "America/Winnipeg"),
    area(205, "US-AL", "America/Chicago"),
    area(206, "US-WA", "America/Los_Angeles"),
    area(207, "US-ME", "America/New_York"),
    area(208, "US-ID", "America/Boise"), // southern Idaho (Boise) outweighs the Pacific-time panhandle
    area(209, "US-CA", "America/Los_Angeles"),
    area(210, "US-TX", "America/Chicago"),
    area(212, "US-NY", "America/New_York"),
    area(213, "US-CA", "America/Los_Angeles"),
    area(214, "US-TX", "America/Chicago"),
    area(215, "US-PA", "America/New_York"),
    area(216, "US-OH", "America/New_York"),
    area(217, "US-IL", "America/Chicago"),
    area(218, "US-MN", "America/Chicago"),
    area(219, "US-IN", "America/Chicago"), // Gary, Hammond and Michigan City keep Central time
    area(220, "US-OH", "America/New_York"),
    area(223, "US-PA", "America/New_York"),
    area(224, "US-IL", "America/Chicago"),
    area(225, "US-LA", "America/Chicago"),
    area(226, "CA-ON", "America/Toronto"),
    area(227, "US-MD", "America/New_York"),
    area(228, "US-MS", "America/Chicago"),
    area(229, "US-GA", "America/New_York"),
    area(231, "US-MI", "America/Detroit"),
    area(234, "US-OH", "America/New_York"),
    area(235, "US-MO", "America/Chicago"),
    area(236, "CA-BC", "America/Vancouver"),
    area(239, "US-FL", "America/New_York"),
    area(240, "US-MD", "America/New_York"),
    area(242, "BS", "America/Nassau"),
    area(246, "BB", "America/Barbados"),
    area(248, "US-MI", "America/Detroit"),
    area(249, "CA-ON", "America/Toronto"),
    area(250, "CA-BC", "America/Vancouver"),
    area(251, "US-AL", "America/Chicago"),
    area(252, "US-NC", "America/New_York"),
    area(253, "US-WA", "America/Los_Angeles"),
    area(254, "US-TX", "America/Chicago"),
    area(256, "US-AL", "America/Chicago"),
    area(257, "CA-BC", "America/Vancouver"),
    area(260, "US-IN", "America/Indiana/Indianapolis"),
    area(262, "US-WI", "America/Chicago"),
    area(263, "CA-QC", "America/Toronto"),
    area(264, "AI", "America/Anguilla"),
    area(267, "US-PA", "America/New_York"),
    area(268, "AG", "America/Antigua"),
    area(269, "US-MI", "America/Detroit"),
    area(270, "US-KY", "America/Chicago"), // Bowling Green, Owensboro and Paducah are Central; Elizabethtown is Eastern
    area(272, "US-PA", "America/New_York"),
    area(273, "CA-QC", "America/Toronto"), // assigned, in service from 2027
    area(274, "US-WI", "America/Chicago"),
    area(276, "US-VA", "America/New_York"),
    area(279, "US-CA", "America/Los_Angeles"),
    area(281, "US-TX", "America/Chicago"),
    area(283, "US-OH", "America/New_York"),
    area(284, "VG", "America/Tortola"),
    area(289, "CA-ON", "America/Toronto"),
    area(301, "US-MD", "America/New_York"),
    area(302, "US-DE", "America/New_York"),
    area(303, "US-CO", "America/Denver"),
    area(304, "US-WV", "America/New_York"),
    area(305, "US-FL", "America/New_York"),
    area(306, "CA-SK", "America/Regina"), // Saskatchewan keeps CST all year
    area(307, "US-WY", "America/Denver"),
    area(308, "US-NE", "America/Chicago"), // Grand Island, Kearney, North Platte are Central; the panhandle Mountain
    area(309, "US-IL", "America/Chicago"),
    area(310, "US-CA", "America/Los_Angeles"),
    area(312, "US-IL", "America/Chicago"),
    area(313, "US-MI", "America/Detroit"),
    area(314, "US-MO", "America/Chicago"),
    area(315, "US-NY", "America/New_York"),
    area(316, "US-KS", "America/Chicago"),
    area(317, "US-IN", "America/Indiana/Indianapolis"),
    area(318, "US-LA", "America/Chicago"),
    area(319, "US-IA", "America/Chicago"),
    area(320, "US-MN", "America/Chicago"),
    area(321, "US-FL", "America/New_York"),
    area(323, "US-CA", "America/Los_Angeles"),
    area(324, "US-FL", "America/New_York"),
    area(325, "US-TX", "America/Chicago"),
    area(326, "US-OH", "America/New_York"),
    area(327, "US-AR", "America/Chicago"),
    area(329, "US-NY", "America/New_York"),
    area(330, "US-OH", "America/New_York"),
    area(331, "US-IL", "America/Chicago"),
    area(332, "US-NY", "America/New_York"),
    area(334, "US-AL", "America/Chicago"),
    area(336, "US-NC", "America/New_York"),
    area(337, "US-LA", "America/Chicago"),
    area(339, "US-MA", "America/New_York"),
    area(340, "VI", "America/St_Thomas"),
    area(341, "US-CA", "America/Los_Angeles"),
    area(343, "CA-ON", "America/Toronto"),
    area(345, "KY", "America/Cayman"),
    area(346, "US-TX", "America/Chicago"),
    area(347, "US-NY", "America/New_York"),
    area(350, "US-CA", "America/Los_Angeles"),
    area(351, "US-MA", "America/New_York"),
    area(352, "US-FL", "America/New_York"),
    area(353, "US-WI", "America/Chicago"),
    area(354, "CA-QC", "America/Toronto"),
    area(357, "US-CA", "America/Los_Angeles"),
    area(360, "US-WA", "America/Los_Angeles"),
    area(361, "US-TX", "America/Chicago"),
    area(363, "US-NY", "America/New_York"),
    area(364, "US-KY", "America/Chicago"), // overlays 270
    area(365, "CA-ON", "America/Toronto"),
    area(367, "CA-QC", "America/Toronto"),
    area(368, "CA-AB", "America/Edmonton"),
    area(369, "US-CA", "America/Los_Angeles"),
    area(380, "US-OH", "America/New_York"),
    area(382, "CA-ON", "America/Toronto"),
    area(385, "US-UT", "America/Denver"),
    area(386, "US-FL", "America/New_York"),
    area(401, "US-RI", "America/New_York"),
    area(402, "US-NE", "America/Chicago"),
    area(403, "CA-AB", "America/Edmonton"),
    area(404, "US-GA", "America/New_York"),
    area(405, "US-OK", "America/Chicago"),
    area(406, "US-MT", "America/Denver"),
    area(407, "US-FL", "America/New_York"),
    area(408, "US-CA", "America/Los_Angeles"),
    area(409, "US-TX", "America/Chicago"),
    area(410, "US-MD", "America/New_York"),
    area(412, "US-PA", "America/New_York"),
    area(413, "US-MA", "America/New_York"),
    area(414, "US-WI", "America/Chicago"),
    area(415, "US-CA", "America/Los_Angeles"),
    area(416, "CA-ON", "America/Toronto"),
    area(417, "US-MO", "America/Chicago"),
    area(418, "CA-QC", "America/Toronto"),
    area(419, "US-OH", "America/New_York"),
    area(423, "US-TN", "America/New_York"), // Chattanooga and the Tri-Cities are Eastern
    area(424, "US-CA", "America/Los_Angeles"),
    area(425, "US-WA", "America/Los_Angeles"),
    area(428, "CA-NB", "America/Moncton"),
    area(430, "US-TX", "America/Chicago"),
    area(431, "CA-MB", "America/Winnipeg"),
    area(432, "US-TX", "America/Chicago"),
    area(434, "US-VA", "America/New_York"),
    area(435, "US-UT", "America/Denver"),
    area(436, "US-OH", "America/New_York"),
    area(437, "CA-ON", "America/Toronto"),
    area(438, "CA-QC", "America/Toronto"),
    area(440, "US-OH", "America/New_York"),
    area(441, "BM", "Atlantic/Bermuda"),
    area(442, "US-CA", "America/Los_Angeles"),
    area(443, "US-MD", "America/New_York"),
    area(445, "US-PA", "America/New_York"),
    area(447, "US-IL", "America/Chicago"),
    area(448, "US-FL", "America/Chicago"), // overlays 850
    area(450, "CA-QC", "America/Toronto"),
    area(457, "US-LA", "America/Chicago"),
    area(458, "US-OR", "America/Los_Angeles"), // overlays 541
    area(463, "US-IN", "America/Indiana/Indianapolis"),
    area(464, "US-IL", "America/Chicago"),
    area(465, "US-NY", "America/New_York"), // assigned, overlays 718 from 2026
    area(468, "CA-QC", "America/Toronto"),
    area(469, "US-TX", "America/Chicago"),
    area(470, "US-GA", "America/New_York"),
    area(471, "US-MS", "America/Chicago"), // assigned, overlays 662 from 2026
    area(472, "US-NC", "America/New_York"),
    area(473, "GD", "America/Grenada"),
    area(474, "CA-SK", "America/Regina"), // Saskatchewan keeps CST all year
    area(475, "US-CT", "America/New_York"),
    area(478, "US-GA", "America/New_York"),
    area(479, "US-AR", "America/Chicago"),
    area(480, "US-AZ", "America/Phoenix"),
    area(483, "US-AL", "America/Chicago"), // assigned, overlays 334 from 2026
    area(484, "US-PA", "America/New_York"),
    area(501, "US-AR", "America/Chicago"),
    area(502, "US-KY", "America/Kentucky/Louisville"), // Louisville's own zone; same rules as New York today
    area(503, "US-OR", "America/Los_Angeles"),
    area(504, "US-LA", "America/Chicago"),
    area(505, "US-NM", "America/Denver"),
    area(506, "CA-NB", "America/Moncton"),
    area(507, "US-MN", "America/Chicago"),
    area(508, "US-MA", "America/New_York"),
    area(509, "US-WA", "America/Los_Angeles"),
    area(510, "US-CA", "America/Los_Angeles"),
    area(512, "US-TX", "America/Chicago"),
    area(513, "US-OH", "America/New_York"),
    area(514, "CA-QC", "America/Toronto"),
    area(515, "US-IA", "America/Chicago"),
    area(516, "US-NY", "America/New_York"),
    area(517, "US-MI", "America/Detroit"),
    area(518, "US-NY", "America/New_York"),
    area(519, "CA-ON", "America/Toronto"),
    area(520, "US-AZ", "America/Phoenix"),
    area(530, "US-CA", "America/Los_Angeles"),
    area(531, "US-NE", "America/Chicago"),
    area(534, "US-WI", "America/Chicago"),
    area(539, "US-OK", "America/Chicago"),
    area(540, "US-VA", "America/New_York"),
    area(541, "US-OR", "America/Los_Angeles"), // only Malheur County (Ontario) is Mountain
    area(548, "CA-ON", "America/Toronto"),
    area(551, "US-NJ", "America/New_York"),
    area(557, "US-MO", "America/Chicago"),
    area(559, "US-CA", "America/Los_Angeles"),
    area(561, "US-FL", "America/New_York"),
    area(562, "US-CA", "America/Los_Angeles"),
    area(563, "US-IA", "America/Chicago"),
    area(564, "US-WA", "America/Los_Angeles"),
    area(565, "US-GA", "America/New_York"), // assigned, overlays 912 when it runs out
    area(567, "US-OH", "America/New_York"),
    area(570, "US-PA", "America/New_York"),
    area(571, "US-VA", "America/New_York"),
    area(572, "US-OK", "America/Chicago"),
    area(573, "US-MO", "America/Chicago"),
    area(574, "US-IN", "America/Indiana/Indianapolis"), // South Bend and Elkhart are Eastern; Starke County is Central
    area(575, "US-NM", "America/Denver"),
    area(579, "CA-QC", "America/Toronto"),
    area(580, "US-OK", "America/Chicago"),
    area(581, "CA-QC", "America/Toronto"),
    area(582, "US-PA", "America/New_York"),
    area(584, "CA-MB", "America/Winnipeg"),
    area(585, "US-NY", "America/New_York"),
    area(586, "US-MI", "America/Detroit"),
    area(587, "CA-AB", "America/Edmonton"),
    area(601, "US-MS", "America/Chicago"),
    area(602, "US-AZ", "America/Phoenix"),
    area(603, "US-NH", "America/New_York"),
    area(604, "CA-BC", "America/Vancouver"),
    area(605, "US-SD", "America/Chicago"), // Sioux Falls and the east are Central; Rapid City is Mountain
    area(606, "US-KY", "America/New_York"), // NANPA lists a sliver on Central time
    area(607, "US-NY", "America/New_York"),
    area(608, "US-WI", "America/Chicago"),
    area(609, "US-NJ", "America/New_York"),
    area(610, "US-PA", "America/New_York"),
    area(612, "US-MN", "America/Chicago"),
    area(613, "CA-ON", "America/Toronto"),
    area(614, "US-OH", "America/New_York"),
    area(615, "US-TN", "America/Chicago"),
    area(616, "US-MI", "America/Detroit"),
    area(617, "US-MA", "America/New_York"),
    area(618, "US-IL", "America/Chicago"),
    area(619, "US-CA", "America/Los_Angeles"),
    area(620, "US-KS", "America/Chicago"), // the western border counties are Mountain
    area(621, "US-TX", "America/Chicago"),
    area(623, "US-AZ", "America/Phoenix"),
    area(624, "US-NY", "America/New_York"),
    area(626, "US-CA", "America/Los_Angeles"),
    area(628, "US-CA", "America/Los_Angeles"),
    area(629, "US-TN", "America/Chicago"),
    area(630, "US-IL", "America/Chicago"),
    area(631, "US-NY", "America/New_York"),
    area(636, "US-MO", "America/Chicago"),
    area(639, "CA-SK", "America/Regina"), // Saskatchewan keeps CST all year
    area(640, "US-NJ", "America/New_York"),
    area(641, "US-IA", "America/Chicago"),
    area(645, "US-FL", "America/New_York"),
    area(646, "US-NY", "America/New_York"),
    area(647, "CA-ON", "America/Toronto"),
    area(649, "TC", "America/Grand_Turk"),
    area(650, "US-CA", "America/Los_Angeles"),
    area(651, "US-MN", "America/Chicago"),
    area(656, "US-FL", "America/New_York"),
    area(657, "US-CA", "America/Los_Angeles"),
    area(658, "JM", "America/Jamaica"),
    area(659, "US-AL", "America/Chicago"),
    area(660, "US-MO", "America/Chicago"),
    area(661, "US-CA", "America/Los_Angeles"),
    area(662, "US-MS", "America/Chicago"),
    area(664, "MS", "America/Montserrat"),
    area(667, "US-MD", "America/New_York"),
    area(669, "US-CA", "America/Los_Angeles"),
    area(670, "MP", "Pacific/Saipan"),
    area(671, "GU", "Pacific/Guam"),
    area(672, "CA-BC", "America/Vancouver"),
    area(678, "US-GA", "America/New_York"),
    area(679, "US-MI", "America/Detroit"),
    area(680, "US-NY", "America/New_York"),
    area(681, "US-WV", "America/New_York"),
    area(682, "US-TX", "America/Chicago"),
    area(683, "CA-ON", "America/Toronto"),
    area(684, "AS", "Pacific/Pago_Pago"),
    area(686, "US-VA", "America/New_York"),
    area(689, "US-FL", "America/New_York"),
    area(701, "US-ND", "America/Chicago"), // Fargo and Bismarck are Central; the southwest (Dickinson) is Mountain
    area(702, "US-NV", "America/Los_Angeles"),
    area(703, "US-VA", "America/New_York"),
    area(704, "US-NC", "America/New_York"),
    area(705, "CA-ON", "America/Toronto"),
    area(706, "US-GA", "America/New_York"),
    area(707, "US-CA", "America/Los_Angeles"),
    area(708, "US-IL", "America/Chicago"),
    area(709, "CA-NL", "America/St_Johns"), // the island holds most people; most of Labrador is on Atlantic time
    area(712, "US-IA", "America/Chicago"),
    area(713, "US-TX", "America/Chicago"),
    area(714, "US-CA", "America/Los_Angeles"),
    area(715, "US-WI", "America/Chicago"),
    area(716, "US-NY", "America/New_York"),
    area(717, "US-PA", "America/New_York"),
    area(718, "US-NY", "America/New_York"),
    area(719, "US-CO", "America/Denver"),
    area(720, "US-CO", "America/Denver"),
    area(721, "SX", "America/Lower_Princes"),
    area(724, "US-PA", "America/New_York"),
    area(725, "US-NV", "America/Los_Angeles"),
    area(726, "US-TX", "America/Chicago"),
    area(727, "US-FL", "America/New_York"),
    area(728, "US-FL", "America/New_York"),
    area(729, "US-TN", "America/New_York"), // overlays 423
    area(730, "US-IL", "America/Chicago"),
    area(731, "US-TN", "America/Chicago"),
    area(732, "US-NJ", "America/New_York"),
    area(734, "US-MI", "America/Detroit"),
    area(737, "US-TX", "America/Chicago"),
    area(738, "US-CA", "America/Los_Angeles"),
    area(740, "US-OH", "America/New_York"),
    area(742, "CA-ON", "America/Toronto"),
    area(743, "US-NC", "America/New_York"),
    area(747, "US-CA", "America/Los_Angeles"),
    area(748, "US-CO", "America/Denver"),
    area(753, "CA-ON", "America/Toronto"),
    area(754, "US-FL", "America/New_York"),
    area(757, "US-VA", "America/New_York"),
    area(758, "LC", "America/St_Lucia"),
    area(760, "US-CA", "America/Los_Angeles"),
    area(761, "US-KY", "America/Kentucky/Louisville"), // assigned, overlays 502
    area(762, "US-GA", "America/New_York"),
    area(763, "US-MN", "America/Chicago"),
    area(765, "US-IN", "America/Indiana/Indianapolis"),
    area(767, "DM", "America/Dominica"),
    area(769, "US-MS", "America/Chicago"),
    area(770, "US-GA", "America/New_York"),
    area(771, "US-DC", "America/New_York"),
    area(772, "US-FL", "America/New_York"),
    area(773, "US-IL", "America/Chicago"),
    area(774, "US-MA", "America/New_York"),
    area(775, "US-NV", "America/Los_Angeles"), // only West Wendover keeps Mountain time
    area(778, "CA-BC", "America/Vancouver"),
    area(779, "US-IL", "America/Chicago"),
    area(780, "CA-AB", "America/Edmonton"),
    area(781, "US-MA", "America/New_York"),
    area(782, "CA-NS", "America/Halifax"), // Nova Scotia and Prince Edward Island; NS is the larger
    area(784, "VC", "America/St_Vincent"),
    area(785, "US-KS", "America/Chicago"), // the western border counties are Mountain
    area(786, "US-FL", "America/New_York"),
    area(787, "PR", "America/Puerto_Rico"),
    area(801, "US-UT", "America/Denver"),
    area(802, "US-VT", "America/New_York"),
    area(803, "US-SC", "America/New_York"),
    area(804, "US-VA", "America/New_York"),
    area(805, "US-CA", "America/Los_Angeles"),
    area(806, "US-TX", "America/Chicago"),
    area(807, "CA-ON", "America/Toronto"), // Thunder Bay is Eastern; Kenora, Dryden and Fort Frances are Central
    area(808, "US-HI", "Pacific/Honolulu"),
    area(809, "DO", "America/Santo_Domingo"),
    area(810, "US-MI", "America/Detroit"),
    area(812, "US-IN", "America/Indiana/Indianapolis"), // only the Evansville corner is Central
    area(813, "US-FL", "America/New_York"),
    area(814, "US-PA", "America/New_York"),
    area(815, "US-IL", "America/Chicago"),
    area(816, "US-MO", "America/Chicago"),
    area(817, "US-TX", "America/Chicago"),
    area(818, "US-CA", "America/Los_Angeles"),
    area(819, "CA-QC", "America/Toronto"),
    area(820, "US-CA", "America/Los_Angeles"),
    area(821, "US-SC", "America/New_York"),
    area(825, "CA-AB", "America/Edmonton"),
    area(826, "US-VA", "America/New_York"),
    area(828, "US-NC", "America/New_York"),
    area(829, "DO", "America/Santo_Domingo"),
    area(830, "US-TX", "America/Chicago"),
    area(831, "US-CA", "America/Los_Angeles"),
    area(832, "US-TX", "America/Chicago"),
    area(835, "US-PA", "America/New_York"),
    area(837, "US-CA", "America/Los_Angeles"),
    area(838, "US-NY", "America/New_York"),
    area(839, "US-SC", "America/New_York"),
    area(840, "US-CA", "America/Los_Angeles"),
    area(843, "US-SC", "America/New_York"),
    area(845, "US-NY", "America/New_York"),
    area(847, "US-IL", "America/Chicago"),
    area(848, "US-NJ", "America/New_York"),
    area(849, "DO", "America/Santo_Domingo"),
    area(850, "US-FL", "America/Chicago"), // Pensacola to Panama City is Central and outnumbers Eastern Tallahassee
    area(854, "US-SC", "America/New_York"),
    area(856, "US-NJ", "America/New_York"),
    area(857, "US-MA", "America/New_York"),
    area(858, "US-CA", "America/Los_Angeles"),
    area(859, "US-KY", "America/New_York"),
    area(860, "US-CT", "America/New_York"),
    area(861, "US-IL", "America/Chicago"),
    area(862, "US-NJ", "America/New_York"),
    area(863, "US-FL", "America/New_York"),
    area(864, "US-SC", "America/New_York"),
    area(865, "US-TN", "America/New_York"),
    area(867, "CA-NT", "America/Edmonton"), // YT, NT, NU: NWT plus western Nunavut (Mountain, DST) outnumber Yukon
    area(868, "TT", "America/Port_of_Spain"),
    area(869, "KN", "America/St_Kitts"),
    area(870, "US-AR", "America/Chicago"),
    area(872, "US-IL", "America/Chicago"),
    area(873, "CA-QC", "America/Toronto"),
    area(876, "JM", "America/Jamaica"),
    area(878, "US-PA", "America/New_York"),
    area(879, "CA-NL", "America/St_Johns"), // overlays 709
    area(901, "US-TN", "America/Chicago"),
    area(902, "CA-NS", "America/Halifax"), // Nova Scotia and Prince Edward Island; NS is the larger
    area(903, "US-TX", "America/Chicago"),
    area(904, "US-FL", "America/New_York"),
    area(905, "CA-ON", "America/Toronto"),
    area(906, "US-MI", "America/Detroit"), // Marquette, Sault Ste. Marie are Eastern; the Wisconsin border Central
    area(907, "US-AK", "America/Anchorage"), // all but the Aleutians west of 169.5°W
    area(908, "US-NJ", "America/New_York"),
    area(909, "US-CA", "America/Los_Angeles"),
    area(910, "US-NC", "America/New_York"),
    area(912, "US-GA", "America/New_York"),
    area(913, "US-KS", "America/Chicago"),
    area(914, "US-NY", "America/New_York"),
    area(915, "US-TX", "America/Denver"), // El Paso and Hudspeth County are Mountain
    area(916, "US-CA", "America/Los_Angeles"),
    area(917, "US-NY", "America/New_York"),
    area(918, "US-OK", "America/Chicago"),
    area(919, "US-NC", "America/New_York"),
    area(920, "US-WI", "America/Chicago"),
    area(924, "US-MN", "America/Chicago"),
    area(925, "US-CA", "America/Los_Angeles"),
    area(928, "US-AZ", "America/Phoenix"),
    area(929, "US-NY", "America/New_York"),
    area(930, "US-IN", "America/Indiana/Indianapolis"), // overlays 812
    area(931, "US-TN", "America/Chicago"),              // Clarksville, Columbia and Cookeville are Central
    area(934, "US-NY", "America/New_York"),
    area(936, "US-TX", "America/Chicago"),
    area(937, "US-OH", "America/New_York"),
    area(938, "US-AL", "America/Chicago"),
    area(939, "PR", "America/Puerto_Rico"),
    area(940, "US-TX", "America/Chicago"),
    area(941, "US-FL", "America/New_York"),
    area(942, "CA-ON", "America/Toronto"),
    area(943, "US-GA", "America/New_York"),
    area(945, "US-TX", "America/Chicago"),
    area(947, "US-MI", "America/Detroit"),
    area(948, "US-VA", "America/New_York"),
    area(949, "US-CA", "America/Los_Angeles"),
    area(951, "US-CA", "America/Los_Angeles"),
    area(952, "US-MN", "America/Chicago"),
    area(954, "US-FL", "America/New_York"),
    area(956, "US-TX", "America/Chicago"),
    area(959, "US-CT", "America/New_York"),
    area(970, "US-CO", "America/Denver"),
    area(971, "US-OR", "America/Los_Angeles"),
    area(972, "US-TX", "America/Chicago"),
    area(973, "US-NJ", "America/New_York"),
    area(975, "US-MO", "America/Chicago"),
    area(978, "US-MA", "America/New_York"),
    area(979, "US-TX", "America/Chicago"),
    area(980, "US-NC", "America/New_York"),
    area(983, "US-CO", "America/Denver"),
    area(984, "US-NC", "America/New_York"),
    area(985, "US-LA", "America/Chicago"),
    area(986, "US-ID", "America/Boise"), // overlays 208
    area(989, "US-MI", "America/Detroit"),
];

/// Sorted by code: every country or territory with an ITU calling code.
const COUNTRY_ZONES: &[(&str, &str)] = &[
    ("AC", "Atlantic/St_Helena"), // Ascension keeps GMT like St Helena
    ("AD", "Europe/Andorra"),
    ("AE", "Asia/Dubai"),
    ("AF", "Asia/Kabul"),
    ("AG", "America/Antigua"),
    ("AI", "America/Anguilla"),
    ("AL", "Europe/Tirane"),
    ("AM", "Asia/Yerevan"),
    ("AO", "Africa/Luanda"),
    ("AR", "America/Argentina/Buenos_Aires"),
    ("AS", "Pacific/Pago_Pago"),
    ("AT", "Europe/Vienna"),
    ("AU", "Australia/Sydney"),
    ("AW", "America/Aruba"),
    ("AX", "Europe/Mariehamn"),
    ("AZ", "Asia/Baku"),
    ("BA", "Europe/Sarajevo"),
    ("BB", "America/Barbados"),
    ("BD", "Asia/Dhaka"),
    ("BE", "Europe/Brussels"),
    ("BF", "Africa/Ouagadougou"),
    ("BG", "Europe/Sofia"),
    ("BH", "Asia/Bahrain"),
    ("BI", "Africa/Bujumbura"),
    ("BJ", "Africa/Porto-Novo"),
    ("BL", "America/St_Barthelemy"),
    ("BM", "Atlantic/Bermuda"),
    ("BN", "Asia/Brunei"),
    ("BO", "America/La_Paz"),
    ("BQ", "America/Kralendijk"),
    ("BR", "America/Sao_Paulo"),
    ("BS", "America/Nassau"),
    ("BT", "Asia/Thimphu"),
    ("BW", "Africa/Gaborone"),
    ("BY", "Europe/Minsk"),
    ("BZ", "America/Belize"),
    ("CA", "America/Toronto"),
    ("CC", "Indian/Cocos"),
    ("CD", "Africa/Kinshasa"),
    ("CF", "Africa/Bangui"),
    ("CG", "Africa/Brazzaville"),
    ("CH", "Europe/Zurich"),
    ("CI", "Africa/Abidjan"),
    ("CK", "Pacific/Rarotonga"),
    ("CL", "America/Santiago"),
    ("CM", "Africa/Douala"),
    ("CN", "Asia/Shanghai"),
    ("CO", "America/Bogota"),
    ("CR", "America/Costa_Rica"),
    ("CU", "America/Havana"),
    ("CV", "Atlantic/Cape_Verde"),
    ("CW", "America/Curacao"),
    ("CX", "Indian/Christmas"),
    ("CY", "Asia/Nicosia"),
    ("CZ", "Europe/Prague"),
    ("DE", "Europe/Berlin"),
    ("DJ", "Africa/Djibouti"),
    ("DK", "Europe/Copenhagen"),
    ("DM", "America/Dominica"),
    ("DO", "America/Santo_Domingo"),
    ("DZ", "Africa/Algiers"),
    ("EC", "America/Guayaquil"),
    ("EE", "Europe/Tallinn"),
    ("EG", "Africa/Cairo"),
    ("EH", "Africa/El_Aaiun"),
    ("ER", "Africa/Asmara"),
    ("ES", "Europe/Madrid"),
    ("ET", "Africa/Addis_Ababa"),
    ("FI", "Europe/Helsinki"),
    ("FJ", "Pacific/Fiji"),
    ("FK", "Atlantic/Stanley"),
    ("FM", "Pacific/Chuuk"), // Chuuk and Yap (UTC+10) outnumber Pohnpei and Kosrae
    ("FO", "Atlantic/Faroe"),
    ("FR", "Europe/Paris"),
    ("GA", "Africa/Libreville"),
    ("GB", "Europe/London"),
    ("GD", "America/Grenada"),
    ("GE", "Asia/Tbilisi"),
    ("GF", "America/Cayenne"),
    ("GG", "Europe/Guernsey"),
    ("GH", "Africa/Accra"),
    ("GI", "Europe/Gibraltar"),
    ("GL", "America/Nuuk"),
    ("GM", "Africa/Banjul"),
    ("GN", "Africa/Conakry"),
    ("GP", "America/Guadeloupe"),
    ("GQ", "Africa/Malabo"),
    ("GR", "Europe/Athens"),
    ("GT", "America/Guatemala"),
    ("GU", "Pacific/Guam"),
    ("GW", "Africa/Bissau"),
    ("GY", "America/Guyana"),
    ("HK", "Asia/Hong_Kong"),
    ("HN", "America/Tegucigalpa"),
    ("HR", "Europe/Zagreb"),
    ("HT", "America/Port-au-Prince"),
    ("HU", "Europe/Budapest"),
    ("ID", "Asia/Jakarta"),
    ("IE", "Europe/Dublin"),
    ("IL", "Asia/Jerusalem"),
    ("IM", "Europe/Isle_of_Man"),
    ("IN", "Asia/Kolkata"),
    ("IO", "Indian/Chagos"),
    ("IQ", "Asia/Baghdad"),
    ("IR", "Asia/Tehran"),
    ("IS", "Atlantic/Reykjavik"),
    ("IT", "Europe/Rome"),
    ("JE", "Europe/Jersey"),
    ("JM", "America/Jamaica"),
    ("JO", "Asia/Amman"),
    ("JP", "Asia/Tokyo"),
    ("KE", "Africa/Nairobi"),
    ("KG", "Asia/Bishkek"),
    ("KH", "Asia/Phnom_Penh"),
    ("KI", "Pacific/Tarawa"),
    ("KM", "Indian/Comoro"),
    ("KN", "America/St_Kitts"),
    ("KP", "Asia/Pyongyang"),
    ("KR", "Asia/Seoul"),
    ("KW", "Asia/Kuwait"),
    ("KY", "America/Cayman"),
    ("KZ", "Asia/Almaty"), // one offset for the whole country since 2024
    ("LA", "Asia/Vientiane"),
    ("LB", "Asia/Beirut"),
    ("LC", "America/St_Lucia"),
    ("LI", "Europe/Vaduz"),
    ("LK", "Asia/Colombo"),
    ("LR", "Africa/Monrovia"),
    ("LS", "Africa/Maseru"),
    ("LT", "Europe/Vilnius"),
    ("LU", "Europe/Luxembourg"),
    ("LV", "Europe/Riga"),
    ("LY", "Africa/Tripoli"),
    ("MA", "Africa/Casablanca"),
    ("MC", "Europe/Monaco"),
    ("MD", "Europe/Chisinau"),
    ("ME", "Europe/Podgorica"),
    ("MF", "America/Marigot"),
    ("MG", "Indian/Antananarivo"),
    ("MH", "Pacific/Majuro"),
    ("MK", "Europe/Skopje"),
    ("ML", "Africa/Bamako"),
    ("MM", "Asia/Yangon"),
    ("MN", "Asia/Ulaanbaatar"),
    ("MO", "Asia/Macau"),
    ("MP", "Pacific/Saipan"),
    ("MQ", "America/Martinique"),
    ("MR", "Africa/Nouakchott"),
    ("MS", "America/Montserrat"),
    ("MT", "Europe/Malta"),
    ("MU", "Indian/Mauritius"),
    ("MV", "Indian/Maldives"),
    ("MW", "Africa/Blantyre"),
    ("MX", "America/Mexico_City"),
    ("MY", "Asia/Kuala_Lumpur"),
    ("MZ", "Africa/Maputo"),
    ("NA", "Africa/Windhoek"),
    ("NC", "Pacific/Noumea"),
    ("NE", "Africa/Niamey"),
    ("NF", "Pacific/Norfolk"),
    ("NG", "Africa/Lagos"),
    ("NI", "America/Managua"),
    ("NL", "Europe/Amsterdam"),
    ("NO", "Europe/Oslo"),
    ("NP", "Asia/Kathmandu"),
    ("NR", "Pacific/Nauru"),
    ("NU", "Pacific/Niue"),
    ("NZ", "Pacific/Auckland"),
    ("OM", "Asia/Muscat"),
    ("PA", "America/Panama"),
    ("PE", "America/Lima"),
    ("PF", "Pacific/Tahiti"),
    ("PG", "Pacific/Port_Moresby"),
    ("PH", "Asia/Manila"),
    ("PK", "Asia/Karachi"),
    ("PL", "Europe/Warsaw"),
    ("PM", "America/Miquelon"),
    ("PR", "America/Puerto_Rico"),
    ("PS", "Asia/Hebron"), // the West Bank holds most people
    ("PT", "Europe/Lisbon"),
    ("PW", "Pacific/Palau"),
    ("PY", "America/Asuncion"),
    ("QA", "Asia/Qatar"),
    ("RE", "Indian/Reunion"),
    ("RO", "Europe/Bucharest"),
    ("RS", "Europe/Belgrade"),
    ("RU", "Europe/Moscow"),
    ("RW", "Africa/Kigali"),
    ("SA", "Asia/Riyadh"),
    ("SB", "Pacific/Guadalcanal"),
    ("SC", "Indian/Mahe"),
    ("SD", "Africa/Khartoum"),
    ("SE", "Europe/Stockholm"),
    ("SG", "Asia/Singapore"),
    ("SH", "Atlantic/St_Helena"),
    ("SI", "Europe/Ljubljana"),
    ("SJ", "Arctic/Longyearbyen"),
    ("SK", "Europe/Bratislava"),
    ("SL", "Africa/Freetown"),
    ("SM", "Europe/San_Marino"),
    ("SN", "Africa/Dakar"),
    ("SO", "Africa/Mogadishu"),
    ("SR", "America/Paramaribo"),
    ("SS", "Africa/Juba"),
    ("ST", "Africa/Sao_Tome"),
    ("SV", "America/El_Salvador"),
    ("SX", "America/Lower_Princes"),
    ("SY", "Asia/Damascus"),
    ("SZ", "Africa/Mbabane"),
    ("TA", "Atlantic/St_Helena"), // Tristan da Cunha keeps GMT like St Helena
    ("TC", "America/Grand_Turk"),
    ("TD", "Africa/Ndjamena"),
    ("TG", "Africa/Lome"),
    ("TH", "Asia/Bangkok"),
    ("TJ", "Asia/Dushanbe"),
    ("TK", "Pacific/Fakaofo"),
    ("TL", "Asia/Dili"),
    ("TM", "Asia/Ashgabat"),
    ("TN", "Africa/Tunis"),
    ("TO", "Pacific/Tongatapu"),
    ("TR", "Europe/Istanbul"),
    ("TT", "America/Port_of_Spain"),
    ("TV", "Pacific/Funafuti"),
    ("TW", "Asia/Taipei"),
    ("TZ", "Africa/Dar_es_Salaam"),
    ("UA", "Europe/Kyiv"),
    ("UG", "Africa/Kampala"),
    ("US", "America/New_York"),
    ("UY", "America/Montevideo"),
    ("UZ", "Asia/Tashkent"),
    ("VA", "Europe/Vatican"),
    ("VC", "America/St_Vincent"),
    ("VE", "America/Caracas"),
    ("VG", "America/Tortola"),
    ("VI", "America/St_Thomas"),
    ("VN", "Asia/Ho_Chi_Minh"),
    ("VU", "Pacific/Efate"),
    ("WF", "Pacific/Wallis"),
    ("WS", "Pacific/Apia"),
    ("XK", "Europe/Belgrade"), // Kosovo has no zone of its own in the tz database
    ("YE", "Asia/Aden"),
    ("YT", "Indian/Mayotte"),
    ("ZA", "Africa/Johannesburg"),
    ("ZM", "Africa/Lusaka"),
    ("ZW", "Africa/Harare"),
];

/// Sorted by region. Each line names the law; these are read from statute or rule text unless said otherwise.
const fn rule(window: (u8, u8)) -> StateRule {
    StateRule { window, days: &[], legal_holidays: false }
}
const NO_SUNDAY: &[(Weekday, Option<(u8, u8)>)] = &[(Weekday::Sunday, None)];

/// Sorted by region. Each entry cites the law; the holiday bans name the state's own legal holidays, which the
/// gate approximates by the federal list (Alabama's Ala. Code § 1-3-8, Louisiana's La. R.S. 1:55, Pennsylvania's
/// 44 P.S. § 11 and Utah's Utah Code § 63G-1-301 add days such as Mardi Gras, Good Friday, Election Day or
/// Pioneer Day that it does not know).
const STATE_RULES: &[(&str, StateRule)] = &[
    // Ala. Admin. Code r. 770-X-5-.17(1)(b), automated solicitation calls: none on Sundays or holidays,
    // otherwise 8 a.m. to 8 p.m.
    ("US-AL", StateRule { window: (8, 20), days: NO_SUNDAY, legal_holidays: true }),
    ("US-CT", rule((9, 20))), // Conn. Gen. Stat. § 42-288a(c), as amended by Public Act 23-98 (2023)
    ("US-FL", rule((8, 20))), // Fla. Stat. § 501.616(6)(a), Florida Telemarketing Act as amended 2021 (SB 1120)
    ("US-KY", rule((10, 21))), // KRS 367.46955(15), per compliance summaries; statute text not seen
    // La. R.S. 45:811(2)-(3): 8 a.m. to 8 p.m. Monday through Saturday; none on Sundays or state holidays.
    ("US-LA", StateRule { window: (8, 20), days: NO_SUNDAY, legal_holidays: true }),
    ("US-MA", rule((8, 20))), // 201 CMR 12.02(2), under M.G.L. c. 159C (Do Not Call Act)
    ("US-MD", rule((8, 20))), // Md. Code, Com. Law § 14-4501 et seq., Stop the Spam Calls Act of 2023
    // Miss. Code § 77-3-723(1), Mississippi Telephone Solicitation Act: 8 a.m. to 8 p.m. Central time, none on
    // a Sunday. The holiday ban was a Public Service Commission rule, repealed when enforcement moved to the
    // Attorney General (HB 1225, 2023).
    ("US-MS", StateRule { window: (8, 20), days: NO_SUNDAY, legal_holidays: false }),
    ("US-NM", rule((9, 21))), // N.M. Stat. § 57-12-22(B)(5), Unfair Practices Act
    ("US-OK", rule((8, 20))), // Okla. Stat. tit. 15, § 775C.1 et seq., Telephone Solicitation Act of 2022
    // 73 P.S. § 2245(a)(1) and (a)(10), Telemarketer Registration Act as amended by Act 73 of 2019: 8 a.m. to
    // 9 p.m., none on legal holidays.
    ("US-PA", StateRule { window: (8, 21), days: &[], legal_holidays: true }),
    // R.I. Gen. Laws § 5-61-2 ("hours of operation") and § 5-61-3.6: Monday to Friday 9 a.m. to 6 p.m. except
    // state or federal holidays, Saturday 10 a.m. to 5 p.m., never Sunday. A holiday on a Saturday is banned
    // too here: stricter than the law, and simpler.
    (
        "US-RI",
        StateRule {
            window: (9, 18),
            days: &[(Weekday::Saturday, Some((10, 17))), (Weekday::Sunday, None)],
            legal_holidays: true,
        },
    ),
    // Tex. Bus. & Com. Code § 301.051: 9 a.m. to 9 p.m. Monday to Saturday, noon to 9 p.m. Sunday.
    ("US-TX", StateRule { window: (9, 21), days: &[(Weekday::Sunday, Some((12, 21)))], legal_holidays: false }),
    // Utah Code § 13-25a-103(3), Telephone and Facsimile Solicitation Act: without prior express consent, not
    // between 9 p.m. and 8 a.m., on a Sunday, or on a legal holiday.
    ("US-UT", StateRule { window: (8, 21), days: NO_SUNDAY, legal_holidays: true }),
    ("US-WA", rule((8, 20))), // RCW 19.158.040(2), Commercial Telephone Solicitation Act
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_zone_is_known_to_jiff() {
        for a in NANP {
            assert!(jiff::tz::TimeZone::get(a.zone).is_ok(), "{} -> {}", a.code, a.zone);
        }
        for (code, zone) in COUNTRY_ZONES {
            assert!(jiff::tz::TimeZone::get(zone).is_ok(), "{code} -> {zone}");
        }
    }

    #[test]
    fn tables_are_sorted_and_unique() {
        assert!(NANP.windows(2).all(|w| w[0].code < w[1].code));
        assert!(COUNTRY_ZONES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(STATE_RULES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn regions_are_well_formed() {
        for a in NANP {
            assert!((200..=999).contains(&a.code), "{}", a.code);
            let ok = match a.region.split_once('-') {
                Some((country, sub)) => ["US", "CA"].contains(&country) && sub.len() == 2,
                // A NANP country outside the US and Canada must itself be in the country table.
                None => country_zone(a.region).is_some(),
            };
            assert!(ok && a.region.bytes().all(|b| b.is_ascii_uppercase() || b == b'-'), "{}: {}", a.code, a.region);
        }
        for (code, _) in COUNTRY_ZONES {
            assert!(code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()), "{code}");
        }
    }

    #[test]
    fn state_rules_are_stricter_than_federal() {
        let within = |(start, end): (u8, u8)| start < end && start >= 8 && end <= 21;
        for (region, r) in STATE_RULES {
            assert!(region.starts_with("US-") && within(r.window), "{region}");
            let narrower = r.window != (8, 21);
            assert!(narrower || !r.days.is_empty() || r.legal_holidays, "{region} is no stricter than federal");
            for (day, hours) in r.days {
                assert!(hours.is_none_or(within), "{region} {day:?}");
            }
            assert!(r.days.windows(2).all(|w| w[0].0.to_monday_zero_offset() < w[1].0.to_monday_zero_offset()));
        }
    }

    #[test]
    fn spot_checks() {
        let at = |code| nanp_area(code).map(|a| (a.region, a.zone));
        assert_eq!(at(212), Some(("US-NY", "America/New_York")));
        assert_eq!(at(415), Some(("US-CA", "America/Los_Angeles")));
        assert_eq!(at(628), Some(("US-CA", "America/Los_Angeles")));
        assert_eq!(at(305), Some(("US-FL", "America/New_York")));
        assert_eq!(at(850), Some(("US-FL", "America/Chicago")));
        assert_eq!(at(602), Some(("US-AZ", "America/Phoenix")));
        assert_eq!(at(808), Some(("US-HI", "Pacific/Honolulu")));
        assert_eq!(at(907), Some(("US-AK", "America/Anchorage")));
        assert_eq!(at(416), Some(("CA-ON", "America/Toronto")));
        assert_eq!(at(604), Some(("CA-BC", "America/Vancouver")));
        assert_eq!(at(306), Some(("CA-SK", "America/Regina")));
        assert_eq!(at(709), Some(("CA-NL", "America/St_Johns")));
        assert_eq!(at(787), Some(("PR", "America/Puerto_Rico")));
        assert_eq!(at(876), Some(("JM", "America/Jamaica")));
        assert_eq!(at(800), None);
        assert_eq!(at(555), None);
        assert_eq!(country_zone("GB"), Some("Europe/London"));
        assert_eq!(country_zone("ZZ"), None);
        assert_eq!(state_quiet_window("US-FL"), Some((8, 20)));
        assert_eq!(state_quiet_window("US-NY"), None);
        assert_eq!(state_rule("US-TX").map(|r| r.days), Some(&[(Weekday::Sunday, Some((12, 21)))][..]));
        assert!(state_rule("US-LA").is_some_and(|r| r.legal_holidays));
        assert!(state_rule("US-MS").is_some_and(|r| !r.legal_holidays && r.days == NO_SUNDAY));
    }

    #[test]
    fn countries_get_their_main_zone() {
        assert_eq!(country_zone("US"), Some("America/New_York"));
        assert_eq!(country_zone("AU"), Some("Australia/Sydney"));
        assert_eq!(country_zone("BR"), Some("America/Sao_Paulo"));
        assert_eq!(country_zone("IN"), Some("Asia/Kolkata"));
        assert_eq!(country_zone("RU"), Some("Europe/Moscow"));
        assert_eq!(country_zone("gb"), None);
        assert!(COUNTRY_ZONES.len() >= 240);
    }

    #[test]
    fn a_zone_names_the_country_whose_numbers_are_typed_there() {
        assert_eq!(country_of_zone("America/New_York"), Some("US"));
        assert_eq!(country_of_zone("America/Los_Angeles"), Some("US"), "not a main zone, but US area codes keep it");
        assert_eq!(country_of_zone("America/Vancouver"), Some("CA"));
        assert_eq!(country_of_zone("Europe/London"), Some("GB"));
        assert_eq!(country_of_zone("Asia/Kolkata"), Some("IN"));
        assert_eq!(country_of_zone("UTC"), None);
        for (code, zone) in COUNTRY_ZONES.iter().filter(|(c, _)| ["US", "GB", "DE", "FR", "JP", "BR"].contains(c)) {
            assert_eq!(country_of_zone(zone), Some(*code));
        }
    }

    #[test]
    fn split_zone_codes_follow_the_majority() {
        let zone = |code| nanp_area(code).map(|a| a.zone);
        assert_eq!(zone(219), Some("America/Chicago"));
        assert_eq!(zone(317), Some("America/Indiana/Indianapolis"));
        assert_eq!(zone(812), Some("America/Indiana/Indianapolis"));
        assert_eq!(zone(915), Some("America/Denver"));
        assert_eq!(zone(208), Some("America/Boise"));
        assert_eq!(zone(270), Some("America/Chicago"));
        for code in [901, 731, 615, 629, 931] {
            assert_eq!(zone(code), Some("America/Chicago"), "{code}");
        }
        assert_eq!(zone(423), Some("America/New_York"));
        assert_eq!(zone(865), Some("America/New_York"));
        assert_eq!(zone(906), Some("America/Detroit"));
        assert_eq!(zone(701), Some("America/Chicago"));
        assert_eq!(zone(541), Some("America/Los_Angeles"));
        assert_eq!(zone(308), Some("America/Chicago"));
        assert_eq!(zone(620), Some("America/Chicago"));
        assert_eq!(zone(785), Some("America/Chicago"));
    }

    #[test]
    fn non_geographic_codes_have_no_place() {
        let toll_free = [800, 833, 844, 855, 866, 877, 888];
        let special = [211, 311, 411, 456, 500, 521, 533, 544, 566, 577, 588, 600, 622, 700, 710, 811, 900, 911, 976];
        for code in toll_free.into_iter().chain(special).chain([0, 1, 199, 1000, 9999]) {
            assert_eq!(nanp_area(code), None, "{code}");
        }
    }

    #[test]
    fn the_caribbean_and_territories_have_their_own_regions() {
        let region = |code| nanp_area(code).map(|a| a.region);
        assert_eq!(region(939), Some("PR"));
        assert_eq!(region(340), Some("VI"));
        assert_eq!(region(671), Some("GU"));
        assert_eq!(region(670), Some("MP"));
        assert_eq!(region(684), Some("AS"));
        assert_eq!(region(809), Some("DO"));
        assert_eq!(region(242), Some("BS"));
        assert_eq!(region(202), Some("US-DC"));
    }
}
