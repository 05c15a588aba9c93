// The monitor's words in Japanese and English. The clinic chooses the screen's language
// (the facility's `lang`: "ja", "en" or "ja+en"; `?lang=` overrides it on one screen).

export const STRINGS = {
  ja: {
    "m.title": "呼び出しモニター",
    "m.sound_hint": "クリックして音を有効にする",
    "m.speech": "音声案内",
    "m.on": "オン",
    "m.off": "オフ",
    "m.offline": "オフライン（再接続中）",
    "m.clock": "現在時刻",
    "m.calls": "呼び出し中の番号",
    "m.programme": "番組",
    "m.suspended": "ただいまサービスを休止しています。受付窓口にお声がけください。",
    "m.idle_title": "順番にお呼びします",
    "m.idle_text": "番号が表示されたら、診察室へお入りください。",
    "m.message": "お知らせ",
    "m.pairing_title": "このモニターを接続します",
    "m.pairing_help": "スタッフ画面の「モニターを接続」で表示された 8 桁のコードを入力してください。",
    "m.pairing_code": "接続コード",
    "m.pairing_btn": "接続",
    "m.now": "お呼び出し中",
    "m.earlier": "呼び出し済み",
    "m.next": "次の番号",
    "m.next_none": "なし",
    "m.waiting": "お待ち",
    "m.waiting_unit": "人",
    "m.closed": "本日の受付は終了しました",
    "m.no_call": "呼び出しなし",
    "m.number": "{n}番",
    "m.counter": "窓口 {counter}",
    "m.room": "{room}番診察室",
    "m.room_short": "{room}診",
    "m.to_room": "{where}へ",
    "m.from": "{label}から",
    "m.reserved": "予約",
    "m.call_aria": "{n}番 {where}",
    "m.sentence": "{n}番の方、{where}へお入りください",
    "m.reception": "受付",
    "m.facility": "施設 {facility}",
    "m.not_found": "施設 {facility} は見つかりません",
    "m.bad_facility": "施設番号が正しくありません",
    "m.expired": "このモニターの接続の有効期限が切れました。もう一度接続してください。",
    "m.invalid_code": "8 桁の数字を入力してください。",
    "m.unknown_pairing_code":
      "コードが違うか、使用済みまたは期限切れです。スタッフ画面で新しいコードを発行してください。",
    "m.rate_limited": "試行回数が多すぎます。1 分ほど待ってからもう一度お試しください。",
    "m.other_facility": "このコードは施設 {facility} 用です。",
    "m.network": "サーバーに接続できません。ネットワークを確認してください。",
    "m.error": "エラー {status}",
  },
  en: {
    "m.title": "Call monitor",
    "m.sound_hint": "Click to turn the sound on",
    "m.speech": "Voice",
    "m.on": "on",
    "m.off": "off",
    "m.offline": "Offline (reconnecting)",
    "m.clock": "Current time",
    "m.calls": "Numbers being called",
    "m.programme": "Programme",
    "m.suspended": "The service is paused. Please ask at the reception desk.",
    "m.idle_title": "We call you in turn",
    "m.idle_text": "When your number is shown, please go to the room next to it.",
    "m.message": "Notice",
    "m.pairing_title": "Connect this monitor",
    "m.pairing_help": "Enter the 8-digit code shown by 「モニターを接続」 (Connect a monitor) on the staff screen.",
    "m.pairing_code": "Code",
    "m.pairing_btn": "Connect",
    "m.now": "Now calling",
    "m.earlier": "Called",
    "m.next": "Next",
    "m.next_none": "none",
    "m.waiting": "Waiting",
    "m.waiting_unit": "",
    "m.closed": "Reception closed for today",
    "m.no_call": "No one called",
    "m.number": "No. {n}",
    "m.counter": "Counter {counter}",
    "m.room": "Room {room}",
    "m.room_short": "Room {room}",
    "m.to_room": "{where}",
    "m.from": "from {label}",
    "m.reserved": "booked",
    "m.call_aria": "Number {n}, {where}",
    "m.sentence": "Number {n}, please go to {where}.",
    "m.reception": "the reception desk",
    "m.facility": "Facility {facility}",
    "m.not_found": "Facility {facility} not found",
    "m.bad_facility": "This facility number is not valid",
    "m.expired": "This monitor's connection has expired. Please connect it again.",
    "m.invalid_code": "Please enter the 8 digits.",
    "m.unknown_pairing_code":
      "Wrong code, or already used or expired. Please make a new code on the staff screen.",
    "m.rate_limited": "Too many tries. Please wait a minute and try again.",
    "m.other_facility": "This code is for facility {facility}.",
    "m.network": "Cannot reach the server. Please check the network.",
    "m.error": "Error {status}",
  },
};

/** The languages of a `lang` setting: "ja+en" -> ["ja", "en"]; anything unknown -> ["ja"]. */
export function languagesOf(setting) {
  const langs = String(setting || "")
    .toLowerCase()
    .split(/[+,\s]+/)
    .filter((l) => l === "ja" || l === "en");
  return langs.length ? [...new Set(langs)] : ["ja"];
}

/** The string `key` in `lang`, `{name}` placeholders filled from `vars`. */
export function tr(lang, key, vars = {}) {
  const text = STRINGS[lang]?.[key] ?? STRINGS.ja[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}
