//! Prints the attributes of a binary XML file with their resource ids (debug aid).
fn main() {
    let path = std::env::args().nth(1).expect("path");
    let data = std::fs::read(&path).expect("read");
    let root = appscan::android::axml::parse_axml(&data, &path, &Default::default()).expect("parse");
    for a in &root.attributes {
        println!(
            "{:?} {:?} {} {:?} {:?}",
            a.prefix,
            a.namespace,
            a.name,
            a.resource_id.map(|r| format!("{r:08x}")),
            a.decoy_name
        );
    }
}
