fn main() {
    build_util::generate_notifications();
}
