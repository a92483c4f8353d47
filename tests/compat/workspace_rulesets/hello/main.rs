fn main() {
    println!("hello from rust {}", numbers::add(3, 4));
}
